"""Status look-ups are limited per sender (issue 11, item 3): a person checking their own
complaints never meets the limit; a client guessing others' numbers does."""

from __future__ import annotations

from sqlalchemy import func, select

from conversation import catalog
from storage import tracking
from storage.models import Complaint, ComplaintEvent
from tests.citizen import Citizen

T = catalog.text


def _file(c: Citizen) -> str:
    for text in ("1", "Open manhole on the main road is dangerous for children", "Swat",
                 "Mingora bazaar", "no"):
        c.send(text)
    with c.rt.sessions() as s:
        return s.scalars(select(Complaint.tracking_number).order_by(Complaint.id.desc())).first()


def _counts(rt) -> tuple[int, int]:
    with rt.sessions() as s:
        return (s.scalar(select(func.count()).select_from(Complaint)),
                s.scalar(select(func.count()).select_from(ComplaintEvent)))


def test_thirty_look_ups_of_ones_own_complaint_are_all_answered(rt):
    assert rt.settings.status_lookups_per_hour == 20
    owner = Citizen(rt, address="+923001110000")
    shown = tracking.display(_file(owner))
    for _ in range(30):
        [reply] = owner.send(f"status {shown}")
        assert reply.startswith(f"Complaint {shown} (")


def test_guessing_others_numbers_meets_the_limit_and_tells_nothing(rt):
    owner = Citizen(rt, address="+923001110000")
    number = _file(owner)
    before = _counts(rt)
    guesser = Citizen(rt, address="+923009990000")
    # The owner's real number among the guesses, and numbers that exist nowhere.
    guesses = [tracking.display(number)] + [
        tracking.display(tracking.new_number()) for _ in range(24)]
    replies = [guesser.send(g) for g in guesses]
    limited = [T("status_lookups_limited", "en")]
    assert all(r == [T("status_not_found", "en", tracking=g)] for r, g in zip(replies[:20], guesses[:20], strict=True))
    assert replies[20:] == [limited] * 5
    assert not any(f"Complaint {tracking.display(number)} (" in r[0] for r in replies)
    assert _counts(rt) == before  # a look-up changes no complaint
    # The owner's own look-ups are not spent by the guesser.
    [mine] = owner.send(f"status {tracking.display(number)}")
    assert mine.startswith(f"Complaint {tracking.display(number)} (")
