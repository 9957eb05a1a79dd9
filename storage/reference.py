"""Reference data (districts, departments, categories) from the YAML files under config/.

Loading is idempotent: rows are inserted or updated by code, never deleted (a complaint
may point at them), so an operator can edit the files and reload.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from storage.models import Category, Department, District


class ReferenceDataError(Exception):
    """A reference file is missing a field or repeats a code; names file and entry."""


_DISTRICT_FIELDS = ("code", "keypad", "division", "name_en", "name_ur", "name_ps")
_NAME_FIELDS = ("code", "name_en", "name_ur", "name_ps")


def _read(path: Path, key: str) -> list[dict]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReferenceDataError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ReferenceDataError(f"{path}: expected a top-level '{key}:' list")
    return data[key]


def _check(path: Path, entry: dict, fields: tuple[str, ...], seen: set, what: str) -> None:
    if not isinstance(entry, dict):
        raise ReferenceDataError(f"{path}: every {what} must be a mapping")
    missing = [f for f in fields if entry.get(f) in (None, "")]
    if missing:
        raise ReferenceDataError(f"{path}: {what} {entry.get('code', '?')} lacks {', '.join(missing)}")
    if entry["code"] in seen:
        raise ReferenceDataError(f"{path}: {what} code {entry['code']} appears twice")
    seen.add(entry["code"])


def read_reference(config_dir: Path) -> tuple[list[dict], list[dict]]:
    """Read and validate the districts and departments files."""
    districts = _read(config_dir / "districts.yaml", "districts")
    departments = _read(config_dir / "departments.yaml", "departments")
    seen: set = set()
    keypads: set = set()
    for d in districts:
        _check(config_dir / "districts.yaml", d, _DISTRICT_FIELDS, seen, "district")
        if d["keypad"] in keypads:
            raise ReferenceDataError(f"districts.yaml: keypad {d['keypad']} is used twice")
        keypads.add(d["keypad"])
    seen, cat_seen = set(), set()
    for dep in departments:
        _check(config_dir / "departments.yaml", dep, _NAME_FIELDS, seen, "department")
        if not dep.get("categories"):
            raise ReferenceDataError(f"departments.yaml: department {dep['code']} has no categories")
        for cat in dep["categories"]:
            _check(config_dir / "departments.yaml", cat, (*_NAME_FIELDS, "sla_days"), cat_seen, "category")
            if not isinstance(cat["sla_days"], int) or cat["sla_days"] < 1:
                raise ReferenceDataError(f"departments.yaml: category {cat['code']} sla_days must be a whole number of days")
    return districts, departments


def load_reference(session: Session, config_dir: Path) -> dict[str, int]:
    """Insert or update every district, department and category; returns counts."""
    districts, departments = read_reference(config_dir)
    for d in districts:
        session.merge(District(
            code=d["code"], keypad=int(d["keypad"]), division=d["division"], name_en=d["name_en"],
            name_ur=d["name_ur"], name_ps=d["name_ps"], aliases=list(d.get("aliases") or []),
            lat=d.get("lat"), lon=d.get("lon")))
    categories = 0
    for dep in departments:
        session.merge(Department(
            code=dep["code"], name_en=dep["name_en"], name_ur=dep["name_ur"], name_ps=dep["name_ps"],
            keywords=dep.get("keywords") or {}))
        for cat in dep["categories"]:
            categories += 1
            session.merge(Category(
                code=cat["code"], department_code=dep["code"], name_en=cat["name_en"],
                name_ur=cat["name_ur"], name_ps=cat["name_ps"], sla_days=cat["sla_days"],
                keywords=cat.get("keywords") or {}))
    session.flush()
    return {"districts": len(districts), "departments": len(departments), "categories": categories}
