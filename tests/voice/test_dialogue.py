"""The call's dialogue (conversation.call) without a web server or Twilio: what it answers
is prompts and what to gather, which the voice channel only renders."""

from __future__ import annotations

import ast
from pathlib import Path

from conversation.call import Ask, CallInput, CallSettings, PhoneDialogue, RecordVoice
from storage.db import transaction

CHANNEL = Path(__file__).resolve().parents[2] / "channels" / "voice"


def _answer(rt, dialogue, inp, step, seq):
    replies = []
    with transaction(rt.sessions) as session:
        done = dialogue.answer(session, inp, step, seq, lambda reply: replies.append(reply) or f"#{seq}")
    return done, replies


def test_the_dialogue_answers_prompts_and_what_to_gather(rt):
    dialogue = PhoneDialogue(CallSettings(record_seconds=90))
    call = CallInput(call_sid="CA" + "d" * 32, caller="+923001112233")
    _, (first,) = _answer(rt, dialogue, call, "start", 0)
    assert first.step == "language" and isinstance(first.then, Ask)
    assert [(s.names, s.lang) for s in first.then.speech] == [
        (("voice_welcome",), "ur"), (("voice_language_choice",), "ur"),
        (("voice_language_choice",), "ps"), (("voice_language_choice",), "en")]
    assert first.then.speech_language is None  # no language chosen yet: keypad only
    _, (menu,) = _answer(rt, dialogue, CallInput(call.call_sid, keys="3"), "language", 1)
    assert menu.lang == "en" and menu.then.speech_language == "en" and "one" in menu.then.hints
    _, (district,) = _answer(rt, dialogue, CallInput(call.call_sid, speech="One."), "menu", 2)
    assert district.step == "district" and district.then.digits == 2
    _, (department,) = _answer(rt, dialogue, CallInput(call.call_sid, keys="11"), "district", 3)
    assert department.step == "department" and department.then.digits == 1
    _, (record,) = _answer(rt, dialogue, CallInput(call.call_sid, keys="6"), "department", 4)
    assert record.then == RecordVoice(max_seconds=90)
    again, replies = _answer(rt, dialogue, CallInput(call.call_sid, keys="6"), "department", 4)
    assert again.text == "#4" and replies == []  # a repeated request is not answered twice


def test_the_voice_channel_knows_no_complaints():
    for path in CHANNEL.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("storage"), f"{path.name} imports {node.module}"
                assert node.module not in ("conversation.actions", "conversation.engine"), path.name
