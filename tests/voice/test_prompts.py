"""The prompt audio: every prompt the line can say has a file in Urdu and Pashto, served as
audio; the build keeps human recordings; Pashto is spelled for the Urdu voice."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

import pytest

from channels.voice import prompts
from channels.voice.audio import PromptLibrary
from channels.voice.hours import parse
from conversation import voice_prompts
from gateway.app import create_app

PASHTO_ONLY = set("ټډړږښګڼېۍځڅ")


def test_every_prompt_has_an_audio_file_in_urdu_and_pashto():
    assert PromptLibrary().missing(list(prompts.texts())) == []


def test_the_prompt_audio_is_served_with_an_audio_content_type(rt):
    client = create_app(rt).test_client()
    served = client.get("/audio/prompts/ps/voice_main_menu.mp3")
    assert served.status_code == 200 and served.mimetype == "audio/mpeg"
    for bad in ("/audio/prompts/ur/nothing.mp3", "/audio/prompts/en/voice_main_menu.mp3",
                "/audio/prompts/ur/..%2Fmanifest.json", "/audio/prompts/ur/voice_main_menu.wav"):
        assert client.get(bad).status_code == 404, bad


def test_pashto_is_spelled_with_urdu_letters_for_the_urdu_voice():
    text = prompts.texts()["voice_main_menu"]["ps"]
    spelled = prompts.pashto_for_urdu_voice(text)
    assert PASHTO_ONLY & set(text) and not PASHTO_ONLY & set(spelled)
    assert "دَ " in spelled  # the particle, not the letter's name


def test_district_codes_are_read_in_groups_by_first_digit():
    groups = voice_prompts.district_groups()
    assert groups == [f"districts_{d}" for d in range(1, 9)]
    assert prompts.texts()["districts_1"]["en"].startswith("Peshawar, one one.")


def _need_programs():
    if not (shutil.which("espeak-ng") and shutil.which("lame")):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("espeak-ng and lame are required in CI")
        pytest.skip("espeak-ng or lame not installed")


def test_the_build_makes_missing_files_and_keeps_a_human_recording(tmp_path):
    _need_programs()
    made = prompts.build(tmp_path, only={"voice_goodbye"}, say=lambda _m: None)
    assert made == {"made": 2, "unchanged": 0, "recorded": 0}
    assert (tmp_path / "ps" / "voice_goodbye.mp3").read_bytes()[:2] == b"\xff\xf3"  # MPEG-2 layer III
    human = tmp_path / "ur" / "voice_goodbye.mp3"
    human.write_bytes(b"ID3 a person reading the text")
    again = prompts.build(tmp_path, only={"voice_goodbye"}, say=lambda _m: None)
    assert again == {"made": 0, "unchanged": 1, "recorded": 1}
    assert human.read_bytes() == b"ID3 a person reading the text"
    (tmp_path / "ps" / "voice_goodbye.wav").write_bytes(b"RIFF a recording in wav")
    assert PromptLibrary(tmp_path).filename("ps", "voice_goodbye") == "voice_goodbye.mp3"


def test_office_hours_are_read_as_an_operator_writes_them():
    hours = parse("sun-thu 08:30-16:00")
    monday_9am_karachi = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    friday_9am_karachi = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    assert hours.open_at(monday_9am_karachi) and not hours.open_at(friday_9am_karachi)
    assert not hours.open_at(datetime(2026, 11, 23, 11, 30, tzinfo=UTC))  # 16:30 in Peshawar
    for bad in ("weekdays 9-5", "mon-fri 17:00-09:00", "mon-fry 09:00-17:00"):
        with pytest.raises(ValueError):
            parse(bad)
