"""Citizen messages to a tracking number, per language and channel.

Scripted naive citizens: the first message states the problem with the district (as most
people write it), then each answers plainly what they are asked (the place when asked where,
the first option when offered a list, "no" to "is it against an officer of that
department?"). Runs through the same entry point as the webhooks and the tests
(gateway.pipeline.receive, then the job) on WhatsApp and SMS, and sends the first message
as a new mail by email. Prints, per language and channel, the messages each citizen sent
until the reply carried a tracking number.

    python bench/dialogue.py
"""

from __future__ import annotations

import base64
import itertools
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from conversation.messages import InboundMessage
from gateway import jobs
from gateway import runtime as rt_module
from gateway.pipeline import receive
from gateway.queue import InProcessQueue
from gateway.settings import load_settings
from storage import tracking
from storage.models import Complaint, Contact, Message

# (first message, the place when asked) per language; none of these is in config/nlu.
CITIZENS = {
    "English": ("no", [
        ("No water in our taps since Monday in Nowshera", "Pabbi road, near the girls school"),
        ("The teacher of the government primary school in Karak has not come for a month",
         "Village Latamber"),
        ("Garbage has been lying in our street in Abbottabad for ten days", "Jinnahabad, street 6"),
        ("Transformer burnt 5 days ago in our mohalla in Bannu, no electricity", "Mandan chowk"),
        ("The patwari in Swabi is asking 30000 rupees for my fard", "Topi tehsil office"),
    ]),
    "Urdu": ("نہیں", [
        ("نوشہرہ میں ہمارے نلکوں میں پیر سے پانی نہیں آ رہا", "پبی روڈ، لڑکیوں کے سکول کے پاس"),
        ("کرک کے سرکاری پرائمری سکول کا استاد ایک مہینے سے نہیں آیا", "گاؤں لتمبر"),
        ("ایبٹ آباد میں ہماری گلی میں دس دن سے کچرا پڑا ہے", "جناح آباد، گلی ۶"),
        ("بنوں میں ہمارے محلے کا ٹرانسفارمر پانچ دن سے جلا ہوا ہے", "منڈان چوک"),
        ("صوابی کا پٹواری فرد کے لیے تیس ہزار مانگ رہا ہے", "ٹوپی تحصیل آفس"),
    ]),
    "Roman Urdu": ("nahi", [
        ("Nowshera mein peer se nalkon mein pani nahi aa raha", "Pabbi road girls school ke paas"),
        ("Karak ke sarkari school ka ustad mahine se nahi aaya", "gaon Latamber"),
        ("Abbottabad mein hamari gali mein das din se kachra para hai", "Jinnahabad gali 6"),
        ("Bannu mein mohallay ka transformer 5 din se jala hua hai bijli nahi", "Mandan chowk"),
        ("Swabi ka patwari fard ke liye 30 hazar mang raha hai", "Topi tehsil daftar"),
    ]),
    "Pashto": ("نه", [
        ("په نوښار کې زموږ نلونو کې له دوشنبې راهیسې اوبه نشته", "پبي سړک، د نجونو ښوونځي ته نږدې"),
        ("د کرک د دولتي ښوونځي استاذ یوه میاشت کېږي نه دی راغلی", "لتمبر کلی"),
        ("په ایبټ اباد کې زموږ په کوڅه کې لس ورځې کثافات پراته دي", "جناح اباد، کوڅه ۶"),
        ("په بنو کې زموږ د کلي ټرانسفارمر پنځه ورځې سوځیدلی دی", "منډان چوک"),
        ("د صوابۍ پټواري د فرد لپاره دېرش زره غواړي", "ټوپي تحصیل دفتر"),
    ]),
}
_ids = itertools.count(1)
MAX_MESSAGES = 8


def _runtime(var: Path) -> rt_module.Runtime:
    settings = load_settings(database_url=f"sqlite:///{var}/dialogue.db", var_dir=var, redis_url=None,
                             data_key=base64.b64encode(os.urandom(32)).decode())
    rt = rt_module.build(settings, warn=lambda _m: None)
    rt_module.prepare(rt, say=lambda _m: None)
    rt.queue = InProcessQueue()
    jobs.install(rt)
    return rt


def _send(rt, channel: str, sender: str, text: str, raw: dict | None = None) -> list[Message]:
    inbound = InboundMessage(channel=channel, provider_id=f"dialogue-{next(_ids)}", sender=sender,
                             text=text, raw=raw or {})
    message_id, _ = receive(rt, inbound)
    rt.queue.run_due()
    with rt.sessions() as s:
        contact_id = s.get(Message, message_id).contact_id
        return list(s.scalars(select(Message).where(Message.contact_id == contact_id,
                                                    Message.direction == "out", Message.id > message_id)
                              .order_by(Message.id)))


def _filed(rt, sender_channel: str, replies: list[Message]) -> bool:
    with rt.sessions() as s:
        numbers = list(s.scalars(select(Complaint.tracking_number).join(
            Contact, Contact.id == Complaint.contact_id).where(Contact.channel == sender_channel)))
    # Replies show the number grouped (KP-385-834-1578), as storage.tracking.display writes it.
    shown = [tracking.display(n) for n in numbers]
    return any(n in r.text for r in replies for n in shown)


def _answer(reply: Message, no: str, place: str, first: str) -> str | None:
    """What a naive citizen answers to the engine's last question."""
    key = (reply.payload or {}).get("key")
    return {"ask_location": place, "location_too_short": place, "ask_category": "1",
            "ask_department": "1", "district_choices": "1", "confirm_confidential": no,
            "yes_or_no": no, "ask_description": first, "which_case": "2"}.get(key)


def chat(rt, channel: str, sender: str, no: str, first: str, place: str) -> int | None:
    text: str | None = first
    for count in range(1, MAX_MESSAGES + 1):
        replies = _send(rt, channel, sender, text)
        if _filed(rt, channel, replies):
            return count
        text = _answer(replies[-1], no, place, first) if replies else None
        if text is None:
            return None
    return None


def email(rt, sender: str, first: str) -> int | None:
    raw = {"email": {"subject": "Complaint", "message_id": f"<dialogue-{next(_ids)}@example.org>",
                     "from": sender}}
    replies = _send(rt, "email", sender, first, raw)
    return 1 if _filed(rt, "email", replies) else None


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rt = _runtime(Path(tmp))
        n = itertools.count(1)
        print(f"{'':12}{'WhatsApp':>22}{'SMS':>22}{'email':>22}   (messages to a tracking number:"
              " mean, most; per citizen)")
        overall: dict[str, list[int | None]] = {"whatsapp": [], "sms": [], "email": []}
        for lang, (no, citizens) in CITIZENS.items():
            row = {}
            for channel in ("whatsapp", "sms", "email"):
                counts = []
                for first, place in citizens:
                    i = next(n)
                    if channel == "email":
                        counts.append(email(rt, f"citizen{i}@example.org", first))
                    else:
                        counts.append(chat(rt, channel, f"+92300{i:07d}", no, first, place))
                overall[channel] += counts
                row[channel] = counts
            cells = [_cell(row[c]) for c in ("whatsapp", "sms", "email")]
            print(f"{lang:12}" + "".join(f"{c:>22}" for c in cells))
        print(f"{'all':12}" + "".join(f"{_cell(overall[c]):>22}" for c in ("whatsapp", "sms", "email")))
        print("aim: at most 3 on WhatsApp and SMS, 1 by email; '-' = no tracking number within "
              f"{MAX_MESSAGES} messages")


def _cell(counts: list[int | None]) -> str:
    done = [c for c in counts if c is not None]
    shown = " ".join(str(c) if c is not None else "-" for c in counts)
    if not done:
        return f"- ({shown})"
    return f"{sum(done) / len(done):.1f}, {max(done)} ({shown})"


if __name__ == "__main__":
    main()
