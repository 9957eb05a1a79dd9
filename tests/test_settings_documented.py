"""Every setting is documented where an operator looks: the README's settings table and the
commented sample ikhtiyar.toml.example, whose every value is one the settings accept."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gateway.settings import _ENV_NAMES, Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "ikhtiyar.toml.example"
FIELDS = sorted(Settings.model_fields)


def _env_name(field: str) -> str:
    return _ENV_NAMES.get(field, f"IKHTIYAR_{field.upper()}")


def _settings_table() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("field", FIELDS)
def test_every_setting_is_in_the_readme_table(field):
    rows = [line for line in _settings_table().splitlines() if line.startswith("|")]
    assert any(f"`{_env_name(field)}`" in row for row in rows), _env_name(field)


def _example_values() -> dict:
    commented = [line[2:] for line in EXAMPLE.read_text(encoding="utf-8").splitlines()
                 if re.match(r"# [a-z_]+ = ", line)]
    return tomllib.loads("\n".join(commented))


def test_the_sample_file_lists_every_setting_and_nothing_else():
    assert sorted(_example_values()) == FIELDS


def test_the_sample_file_loads_as_it_is_and_with_every_line_uncommented(tmp_path, monkeypatch):
    for name in [*map(_env_name, FIELDS), *(f"IKHTIYAR_{f.upper()}" for f in FIELDS)]:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("IKHTIYAR_CONFIG", str(empty))
    defaults = load_settings().model_dump()
    monkeypatch.setenv("IKHTIYAR_CONFIG", str(EXAMPLE))
    assert load_settings().model_dump() == defaults  # all commented out: changes nothing
    # The keys are placeholders to replace (with `ikhtiyar keys new`); every other value works.
    values = {k: v for k, v in _example_values().items() if k not in ("data_key", "secret_key")}
    uncommented = tmp_path / "ikhtiyar.toml"
    with uncommented.open("w", encoding="utf-8") as fh:
        fh.write("\n".join(line[2:] for line in EXAMPLE.read_text(encoding="utf-8").splitlines()
                           if re.match(r"# [a-z_]+ = ", line) and line[2:].split(" ")[0] in values))
    monkeypatch.setenv("IKHTIYAR_CONFIG", str(uncommented))
    loaded = load_settings()
    assert loaded.voice_recording_attempts == values["voice_recording_attempts"]
    assert loaded.twilio_account_sid == values["twilio_account_sid"]
    assert loaded.log_level == values["log_level"]
