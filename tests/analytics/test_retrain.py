"""Routing that learns: `ikhtiyar nlu retrain` learns the categories officers corrected, keeps
the model only when it is better on held-out examples, and the engine reads it next start."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

from conversation import classifier
from conversation.knowledge import Knowledge
from storage import lifecycle, tracking
from storage.db import transaction
from storage.messages import contact_for
from storage.models import Category, Complaint
from tests.conftest import TEST_KEY

_n = itertools.count(1)

# Teacher absence as parents write it, which the corpus model files elsewhere (child welfare,
# university faculty, property tax...) and officers moved to the education department.
TEACHER_ABSENT = [
    "sir at government middle school dabgari sleeps at home, children play in the ground all day",
    "no class is held in grade four, the children play cricket in the ground till chhutti",
    "our kids come back without learning anything, sir is never in the classroom they just play outside",
    "sir at the boys primary school runs his property business, the children sit idle in the veranda",
    "since the new session sir has not taken a single class, children play in the school ground",
    "in government primary school no 2 the classroom is empty every morning, sir comes at eleven and leaves at twelve",
    "children of class three sit in the sun all day because sir is busy with his shop in the bazaar",
    "madam of girls primary school stays in peshawar, the girls sit idle and go home at noon",
    "no one takes the class at our village primary school, sir sends the chowkidar to keep the children quiet",
    "sir comes only on the day of the monitoring visit, other days the children play in the street",
    "grade five has had no lesson for a month, the children play marbles in the school ground",
    "the class room is locked and sir is at his farm, children play outside till home time",
    "my daughter says madam never comes to class, the girls sit idle and chat all day",
    "sir of our primary school is doing a second job in the city, the children are playing in the ground",
    "nobody teaches class two, sir sleeps in the staff room and children play outside",
    "every day sir leaves after the assembly and the children wander around the ground",
]

# The same kind of complaint moved by officers to six different departments.
CONTRADICTORY = [
    "teacher absent from school for weeks in our village",
    "the teacher never comes to the primary school, please act",
    "our school has one teacher and he is always missing",
    "ghost teacher drawing salary but never teaching in our school",
    "the headmaster comes once a month only to sign the register",
    "teacher school nahi aata kai dinon se",
    "ustad kai hafton se ghaib hai school band parha hai",
    "master sahab kabhi nahi aate school bachay ghar bethay hain",
    "headmaster mahine mein ek dafa sign karne aata hai bas",
    "the teacher of class three never comes to school",
    "our village school teacher is missing since two months",
    "ghost teacher takes salary and never comes to school",
    "teacher absent for weeks, children sit at home",
    "the primary school teacher never comes to teach",
    "master sahab school nahi aate tankhwa lete hain",
    "ustad school nahi aata hafton se",
]
WRONG = ["HEALTH_STAFF_ABSENT", "POLICE_INACTION", "LOCAL_GOVT_GARBAGE", "REVENUE_PATWARI",
         "ELECTRICITY_METER", "SOCIAL_WELFARE_CHILD"]


def _corrected(rt, admin: int, moves: list[tuple[str, str, str]]) -> None:
    """Complaints filed under a first category and moved by an officer to another."""
    with transaction(rt.sessions) as s:
        for text, first, final in moves:
            contact = contact_for(s, "whatsapp", f"+92302{next(_n):07d}")
            department = s.get(Category, first).department_code
            c = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                          contact_id=contact.id, channel="whatsapp", language="en", description=text,
                          district_code="PSW", department_code=department, category_code=first)
            lifecycle.submit(s, c, None, lifecycle.Actor("citizen", channel="whatsapp"), sla_days=3)
            s.flush()
            lifecycle.recategorise(s, c, lifecycle.Actor("admin", user_id=admin), final,
                                   reason="filed in the wrong department")


def _retrain(rt, var) -> subprocess.CompletedProcess:
    env = {**os.environ, "IKHTIYAR_VAR_DIR": str(var), "IKHTIYAR_DATA_KEY": TEST_KEY,
           "IKHTIYAR_DATABASE_URL": rt.settings.effective_database_url}
    env.pop("IKHTIYAR_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "gateway.cli", "nlu", "retrain"], env=env,
                          capture_output=True, text=True, timeout=600)


def test_retrain_learns_teacher_absence_moved_by_officers_and_the_engine_reads_it(rt, staff, tmp_path):
    firsts = ["SOCIAL_WELFARE_CHILD", "HIGHER_EDU_FACULTY", "EXCISE_PROPERTY_TAX"]
    _corrected(rt, staff["admin2"], [(t, firsts[i % 3], "EDUCATION_TEACHER_ABSENT")
                                     for i, t in enumerate(TEACHER_ABSENT)])
    done = _retrain(rt, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "corrections: 16 (12 to train on, 4 held out)" in done.stdout
    before = float(done.stdout.split("accuracy before:")[1].split("%")[0])
    after = float(done.stdout.split("accuracy after:")[1].split("%")[0])
    assert after > before
    assert "kept: model version 1 with 12 corrections" in done.stdout
    assert not any(t in done.stdout + done.stderr for t in TEACHER_ABSENT)  # no personal data printed
    record = json.loads((tmp_path / "nlu" / classifier.CORRECTIONS).read_text())
    assert record["version"] == 1 and record["corrections"] == 12 and record["trained_at"]
    assert (tmp_path / "nlu" / classifier.CORRECTIONS).stat().st_mode & 0o077 == 0
    # The engine's next start: the retrained weights are read from the cache, not trained.
    with rt.sessions() as s:
        extra = Knowledge.load(s, trained=False).category_examples
    _, cats = classifier.corpus()
    key = classifier.digest(classifier.corpus()[0], [*cats, *extra, *classifier.retrained(tmp_path / "nlu")[0]])
    assert (tmp_path / "nlu" / f"categories-{key}.npz").exists()
    model = classifier.TextModel.load(tmp_path / "nlu" / f"categories-{key}.npz")
    held_out = TEACHER_ABSENT[2::4]
    assert sum(model.top(t, 1)[0][0] == "EDUCATION_TEACHER_ABSENT" for t in held_out) >= 3
    # Nothing new since: the current model already knows these corrections, no better one.
    again = _retrain(rt, tmp_path)
    assert again.returncode == 1 and "nothing was written" in again.stderr, again.stdout + again.stderr
    assert json.loads((tmp_path / "nlu" / classifier.CORRECTIONS).read_text())["version"] == 1
    # More corrections later: the next model counts on from the version recorded.
    more = ["sir of the girls middle school never took a class this term, the girls play in the ground",
            "no lesson in class six for weeks, sir sits at his shop and the children play outside",
            "sir comes to school once a month, the children of class one sit idle all day",
            "our children play in the school ground every day because no one teaches them"]
    _corrected(rt, staff["admin2"], [(t, "SOCIAL_WELFARE_CHILD", "EDUCATION_TEACHER_ABSENT") for t in more])
    third = _retrain(rt, tmp_path)
    assert third.returncode == 0 and "kept: model version 2" in third.stdout, third.stdout + third.stderr
    assert json.loads((tmp_path / "nlu" / classifier.CORRECTIONS).read_text())["version"] == 2


def test_retrain_refuses_contradictory_corrections_and_writes_nothing(rt, staff, tmp_path):
    _corrected(rt, staff["admin2"], [(t, "EDUCATION_TEACHER_ABSENT", WRONG[i % len(WRONG)])
                                     for i, t in enumerate(CONTRADICTORY)])
    done = _retrain(rt, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refused: the retrained model is not better; nothing was written" in done.stderr
    assert not (tmp_path / "nlu" / classifier.CORRECTIONS).exists()
    assert not any((tmp_path / "nlu").glob("*.npz")) if (tmp_path / "nlu").exists() else True


def test_retrain_without_corrections_changes_nothing(rt, staff, tmp_path):
    done = _retrain(rt, tmp_path)
    assert done.returncode == 1 and "no corrections by officers yet" in done.stdout
