"""The fast paths of the webhook and of a turn do what the slow ones did: a known sender's
message is stored in one statement, a repeat is still stored once, a new sender still gets
a contact and a citizen, and a turn's writes land in the database as the ORM wrote them."""

from __future__ import annotations

import json
import sqlite3
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from conversation.knowledge import Knowledge
from conversation.messages import InboundMessage
from gateway import jobs
from gateway.pipeline import receive
from storage.db import begin_immediate
from storage.models import Citizen, Contact, Conversation, Message
from tests.test_query_counts import max_statements


def _inbound(n: int, text: str, sender: str = "+923001234567", **extra) -> InboundMessage:
    return InboundMessage("whatsapp", f"SMhot{n}", sender, text, **extra)


def test_a_known_senders_new_message_is_stored_in_one_statement(rt):
    jobs.process_inbound(receive(rt, _inbound(0, "hi"))[0])
    with max_statements(rt, 1):  # INSERT ... SELECT the contact ... ON CONFLICT DO NOTHING
        message_id, new = receive(rt, _inbound(1, "1", raw={"Body": "1", "From": "whatsapp:+923001234567"}))
    assert new
    with rt.sessions() as s:
        stored = s.get(Message, message_id)
        contact = s.get(Contact, stored.contact_id)
        assert (stored.direction, stored.status, stored.text, stored.channel) == ("in", "received", "1", "whatsapp")
        assert contact.address == "+923001234567"
        assert json.loads(stored.raw)["From"] == "whatsapp:+923001234567"  # decrypts as it was sealed


def test_a_repeated_delivery_is_stored_once_and_answers_the_first_rows_id(rt):
    first, new = receive(rt, _inbound(0, "hi"))
    again, new_again = receive(rt, _inbound(0, "hi"))
    assert new and not new_again and again == first
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1


def test_a_new_sender_gets_one_contact_and_citizen_and_keeps_them(rt):
    receive(rt, _inbound(0, "hi", sender="+923009990001"))
    receive(rt, _inbound(1, "status", sender="+923009990001"))
    # The same number by SMS is the same citizen (phone channels share one).
    receive(rt, InboundMessage("sms", "SMhot-sms", "+923009990001", "status"))
    with rt.sessions() as s:
        contacts = s.scalars(select(Contact).order_by(Contact.id)).all()
        assert [c.channel for c in contacts] == ["whatsapp", "sms"]
        assert len({c.citizen_id for c in contacts}) == 1
        assert s.scalar(select(func.count()).select_from(Citizen)) == 1


def test_a_turn_writes_the_conversation_the_message_and_the_replies(rt):
    jobs.process_inbound(receive(rt, _inbound(0, "hi"))[0])
    message_id, _ = receive(rt, _inbound(1, "1"))
    reply_ids = jobs.process_inbound(message_id)
    assert jobs.process_inbound(message_id) == []  # a job run twice takes no second turn
    with rt.sessions() as s:
        message = s.get(Message, message_id)
        conversation = s.scalars(select(Conversation)).one()
        assert (message.status, message.language, message.conversation_id) == ("processed", "en", conversation.id)
        assert conversation.state["requested_slot"] == "description"
        assert conversation.last_inbound_at is not None
        replies = [s.get(Message, i) for i in reply_ids]
        assert [(r.direction, r.status, r.channel, r.contact_id, r.conversation_id, r.language)
                for r in replies] == [("out", "queued", "whatsapp", message.contact_id, conversation.id, "en")]
        assert replies[0].payload == {"key": "ask_description"}
        assert replies[0].next_attempt_at is not None


def test_the_form_messages_belong_to_the_filed_complaint(rt):
    lines = ["hi", "1", "The water supply in our street has been broken for a week", "Peshawar",
             "Gulberg street 5", "no"]
    ids = []
    for n, line in enumerate(lines):
        message_id, _ = receive(rt, _inbound(n, line))
        ids.append(message_id)
        jobs.process_inbound(message_id)
    with rt.sessions() as s:
        filed = {m.id: m.complaint_id for m in s.scalars(select(Message).where(Message.id.in_(ids)))}
        complaint_id = filed[ids[-1]]
        assert complaint_id is not None
        assert all(filed[i] == complaint_id for i in ids[1:])  # "1" started the form
        assert filed[ids[0]] is None
        conversation = s.scalars(select(Conversation)).one()
        assert "form" not in conversation.state


@pytest.mark.parametrize(("text", "category"), [
    ("The water supply in our street has been broken for a week", "LOCAL_GOVT_WATER_SUPPLY"),
    # the trained model reads "transformer burnt" as the category of that name
    ("no electricity since morning, transformer burnt", "ELECTRICITY_TRANSFORMER"),
    ("police did not register my FIR", "POLICE_FIR"),
    ("ہسپتال میں ڈاکٹر نہیں", "HEALTH_STAFF_ABSENT"),
    ("a ghost teacher: no teacher has come all month", "EDUCATION_TEACHER_ABSENT"),
    ("the road is full of potholes", "CW_ROAD_DAMAGE"),
    ("nothing here at all", None),
])
def test_a_description_suggests_the_category_its_keywords_name(rt, text, category):
    with rt.sessions() as s:
        assert Knowledge.load(s).suggest_category(text) == category


def test_the_fast_category_scorer_gives_what_the_fitted_pipeline_gives():
    """The engine scores a message with look-ups and one small product, not through
    scikit-learn: on texts made of the corpus's words (whole, cut, run together) and
    filler, its probabilities are the fitted pipeline's own (calibrated) ones."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from conversation import classifier

    _, categories = classifier.corpus()
    texts = [e.text for e in categories]
    model = classifier.TextModel.fit(texts, [e.label for e in categories])
    vectorizer = TfidfVectorizer(analyzer=classifier.char_ngrams, sublinear_tf=True).fit(texts)
    assert vectorizer.vocabulary_ == model.vocabulary
    words = sorted({w for t in texts for w in t.split()})
    pieces = st.one_of(st.sampled_from(words), st.sampled_from(words).map(lambda w: w[1:]),
                       st.sampled_from(["the", "no", "since", "نہیں", "میں", "week", "x"]),
                       st.text(alphabet="abcdefghiklmnoprstuwy ", max_size=8))

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.lists(pieces, max_size=8), st.sampled_from([" ", "", ", "]))
    def agrees(parts: list[str], joiner: str) -> None:
        text = joiner.join(parts)
        row = vectorizer.transform([text]).toarray()[0]
        got = model.probabilities(text)
        if not row.any():
            assert got is None
            return
        # weights carry idf x coefficients x temperature: the idf divided out, the linear scores
        scores = (row / vectorizer.idf_) @ model.weights + model.intercept
        expected = np.exp(scores - scores.max())
        assert np.allclose(got, expected / expected.sum())

    agrees()


def test_begin_immediate_waits_for_the_writer_then_takes_the_lock(tmp_path):
    path = tmp_path / "lock.db"
    holder, waiter = (sqlite3.connect(path, isolation_level=None, check_same_thread=False) for _ in range(2))
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    # Held: a waiter that may not wait long gets SQLite's own error, and the engine's busy
    # timeout back for its other statements.
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(waiter, timeout=0.01)
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    # Released while the waiter waits: it gets the lock and can write.
    releaser = threading.Timer(0.05, holder.execute, ("COMMIT",))
    releaser.start()
    begin_immediate(waiter)
    waiter.execute("INSERT INTO t VALUES (1)")
    waiter.execute("COMMIT")
    releaser.join()
    assert holder.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


_SERVE_LIKE = """
import base64, json, sys
from pathlib import Path
from gateway import runtime as rt_module
from gateway.app import create_app
from gateway.queue import make_queue
from gateway.settings import load_settings
var = Path(sys.argv[1])
settings = load_settings(database_url=f"sqlite:///{var / 'ikhtiyar.db'}", var_dir=var, redis_url=None,
                         data_key=sys.argv[2], secret_key=sys.argv[2])
rt = rt_module.build(settings, warn=lambda _m: None)
rt_module.prepare(rt, say=lambda _m: None)
if sys.argv[3] == "migrate":
    sys.exit(0)
rt.queue = make_queue(None, "q")
rt.warm()
create_app(rt)
assert rt.conversation_knowledge(None).models is not None
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def test_a_serving_process_on_a_migrated_database_loads_no_heavy_library_it_does_not_use(tmp_path):
    """What `ikhtiyar serve` loads before its first message, after a deployment migrated the
    database: the trained understanding (trained now, in a child process), the app and its
    senders, but neither the training libraries (scikit-learn, SciPy), nor the letters' PDF
    and image libraries (written or read on demand), nor Alembic (nothing to migrate)."""
    import subprocess
    import sys

    from tests.conftest import TEST_SECRET

    for step in ("migrate", "serve"):  # `ikhtiyar db upgrade`, then a start on that database
        done = subprocess.run([sys.executable, "-c", _SERVE_LIKE, str(tmp_path), TEST_SECRET, step],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert loaded.isdisjoint({"sklearn", "scipy", "fpdf", "uharfbuzz", "fontTools", "alembic", "mako"}), \
        loaded & {"sklearn", "scipy", "fpdf", "uharfbuzz", "fontTools", "alembic", "mako"}
    assert list((tmp_path / "nlu").glob("intents-*.npz"))  # the child's training is cached for later starts


def test_the_migration_heads_read_without_alembic_are_alembics_own():
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from storage import db

    assert db.head_revisions() == set(ScriptDirectory.from_config(db.alembic_config(create_engine("sqlite://"))).get_heads())
