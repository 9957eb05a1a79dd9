"""The lock files name every dependency pyproject.toml declares: the set-up installs from
the locks with --no-deps, so a dependency added to pyproject.toml alone would be missing on
every fresh machine (run `bash scripts/upgrade-deps --keep` after adding one)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _locked(lock: str) -> set[str]:
    lines = (ROOT / lock).read_text().splitlines()
    return {_name(line) for line in lines if "==" in line and not line.startswith((" ", "#"))}


def test_every_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    run = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    assert run - _locked("requirements.lock") == set()
    assert (run | dev) - _locked("requirements-dev.lock") == set()
