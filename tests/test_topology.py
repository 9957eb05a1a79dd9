"""The split topology's pieces: one scheduler leads however many run."""

from __future__ import annotations

from gateway.leader import Leadership


def test_of_two_schedulers_only_one_leads_and_the_other_takes_over_when_it_stops(rt):
    first, second = Leadership(rt), Leadership(rt)
    assert first.acquire() is True
    assert second.acquire() is False
    assert first.acquire() is True  # still the leader next round
    first.release()  # its process ended
    assert second.acquire() is True
    assert first.acquire() is False
    second.release()
