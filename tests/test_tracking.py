"""Tracking numbers: check digit, display, and finding them in what citizens write."""

from hypothesis import given
from hypothesis import strategies as st

from storage import tracking

URDU = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def test_new_numbers_are_nine_random_digits_and_a_check_digit():
    numbers = {tracking.new_number() for _ in range(2000)}
    for number in numbers:
        assert len(number) == 10 and number.isdigit() and tracking.is_valid(number)
        assert tracking.damm_digit(number[:9]) == int(number[9])
    assert len(numbers) == 2000  # a billion of them: no repeats in a few thousand


def test_display_has_the_prefix_and_groups_of_three_three_and_four():
    assert tracking.display("1234567890", "KP") == "KP-123-456-7890"
    assert tracking.display("1234566", "KP") == "KP-1234566"  # the first wave's numbers, as printed then


def test_the_first_waves_seven_digit_numbers_are_still_found():
    old = "1234566"
    assert tracking.is_valid(old)
    for text in (old, f"KP-{old}", f"status of kp {old} please"):
        assert tracking.find(text).number == old, text


def test_a_grouped_ten_digit_number_is_found_as_printed_and_as_typed():
    n = tracking.new_number()
    for text in (tracking.display(n), n, f"kp {n[:3]} {n[3:6]} {n[6:]}", f"KP-{n}"):
        assert tracking.find(text).number == n, text


@given(st.integers(min_value=0, max_value=9), st.integers(min_value=1, max_value=9))
def test_every_single_mistyped_digit_is_caught(position, delta):
    number = tracking.new_number()
    wrong = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    assert not tracking.is_valid(wrong)


@given(st.integers(min_value=0, max_value=8))
def test_every_swap_of_neighbouring_digits_is_caught(position):
    number = tracking.new_number()
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2:]
    if swapped != number:
        assert not tracking.is_valid(swapped)


def test_found_with_or_without_prefix_dashes_and_spaces():
    n = tracking.new_number()
    for text in (n, f"KP-{n}", f"kp {n}", f"KP-{n[:3]}-{n[3:]}", f"status of {n[:3]} {n[3:]} please",
                 f"میری شکایت KP-{n} کا کیا بنا"):
        assert tracking.find(text).number == n, text


def test_found_in_urdu_and_arabic_indic_digits():
    n = tracking.new_number()
    assert tracking.find(f"شکایت نمبر {n.translate(URDU)}").number == n
    assert tracking.find(f"KP-{n.translate(ARABIC)}").number == n


def test_a_mistyped_number_is_reported_as_mistyped():
    n = tracking.new_number()
    wrong = n[:-1] + str((int(n[-1]) + 1) % 10)
    found = tracking.find(f"KP-{wrong}")
    assert found.number is None and found.mistyped == wrong


def test_phone_and_cnic_numbers_are_not_tracking_numbers():
    assert tracking.find("call me on 0300-1234567 or 03001234567").number is None
    assert tracking.find("CNIC 17301-1234567-1").number is None


def test_a_number_already_taken_is_drawn_again_at_insert(rt, monkeypatch):
    """Insert-and-retry on the unique index: no SELECT first, no race between processes."""
    from sqlalchemy import event, select

    from storage.db import transaction
    from storage.models import Complaint
    from tests.dashboard.conftest import file_complaint

    first = file_complaint(rt)
    draws = iter([first.number, first.number, "1234567894"])
    monkeypatch.setattr(tracking, "new_number", lambda: next(draws))
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        with transaction(rt.sessions) as s:
            taken = s.get(Complaint, first.id)
            second = Complaint(tracking_number=None, citizen_id=taken.citizen_id, contact_id=taken.contact_id,
                               channel="sms", language="en", description="again")
            from storage import lifecycle

            lifecycle.submit(s, second, None, lifecycle.Actor("citizen", channel="sms"))
            number = second.tracking_number
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    assert number == "1234567894" and tracking.is_valid(number)
    assert not [q for q in statements if q.lstrip().upper().startswith("SELECT")
                and "WHERE complaints.tracking_number" in q]
    assert sum("INSERT INTO complaints" in q for q in statements) == 3
    with rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 2


def test_tracking_numbers_are_drawn_again_at_most_a_few_times(rt, monkeypatch):
    import pytest

    from storage import lifecycle
    from storage.db import transaction
    from storage.models import Complaint
    from tests.dashboard.conftest import file_complaint

    first = file_complaint(rt)
    monkeypatch.setattr(tracking, "new_number", lambda: first.number)
    with pytest.raises(RuntimeError, match="no free tracking number"), transaction(rt.sessions) as s:
        taken = s.get(Complaint, first.id)
        again = Complaint(tracking_number=None, citizen_id=taken.citizen_id, contact_id=taken.contact_id,
                          channel="sms", language="en", description="again")
        lifecycle.submit(s, again, None, lifecycle.Actor("citizen", channel="sms"))


def test_guessing_tracking_numbers_by_the_hundred_is_stopped_and_a_citizen_is_not(rt):
    from gateway.app import create_app

    app = create_app(rt)
    citizen = app.test_client()
    citizen.environ_base["REMOTE_ADDR"] = "203.0.113.50"
    assert all(citizen.get(f"/track/KP-{tracking.new_number()}").status_code == 404 for _ in range(5))
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    codes = [guesser.get(f"/track/{n:07d}").status_code for n in range(1_000_000, 1_000_200)]
    assert codes.count(429) >= 150  # hundreds a minute: most are refused
    assert "Retry-After" in guesser.get("/track/KP-1234566").headers
    assert citizen.get(f"/track/KP-{tracking.new_number()}").status_code == 404  # still answered


def test_a_ten_digit_number_is_read_out_in_its_three_groups():
    from conversation.voice_prompts import digits, grouped

    spoken = grouped(["voice_tracking_is", *digits("1234567894"), "voice_goodbye"])
    assert spoken.index(None) == 4 and spoken[8] is None and spoken.count(None) == 2
    assert grouped(digits("1234566")).count(None) == 0  # the first wave's numbers: as before
