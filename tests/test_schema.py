"""Migrations and models agree, on SQLite and PostgreSQL, and reference data loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from config import CONFIG_DIR
from storage.db import transaction
from storage.models import Base, Category, District
from storage.reference import ReferenceDataError, load_reference, read_reference


def test_the_migrations_create_exactly_the_models_tables_and_column_types(rt):
    # Types too: a column the model declares as text but a migration made a short VARCHAR
    # (or an integer that should be a big one) passes on SQLite and fails on PostgreSQL.
    with rt.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], "models and migrations differ: add a migration"


def test_every_district_of_the_province_is_there_with_its_urdu_name(rt):
    with rt.sessions() as s:
        districts = s.scalars(select(District)).all()
        assert len(districts) >= 36
        names = {d.name_en: d.name_ur for d in districts}
        assert names["Peshawar"] == "پشاور" and names["Swat"] == "سوات"
        assert len({d.keypad for d in districts}) == len(districts)
        assert s.scalar(select(func.count()).select_from(Category).where(Category.sla_days > 0)) >= 40


def test_loading_the_reference_data_again_changes_nothing(rt):
    with transaction(rt.sessions) as s:
        before = s.scalar(select(func.count()).select_from(District))
        load_reference(s, CONFIG_DIR)
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(District)) == before


def test_a_broken_reference_file_names_the_entry(tmp_path: Path):
    (tmp_path / "districts.yaml").write_text(
        (CONFIG_DIR / "districts.yaml").read_text(encoding="utf-8").replace("name_ur: پشاور", "name_ur: ''"),
        encoding="utf-8")
    (tmp_path / "departments.yaml").write_text((CONFIG_DIR / "departments.yaml").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="district PSW lacks name_ur"):
        read_reference(tmp_path)


def test_the_catalog_has_every_text_in_english_urdu_and_pashto():
    from conversation import catalog

    entries = catalog.load()
    assert len(entries) > 30
    for key, entry in entries.items():
        for lang in catalog.LANGUAGES:
            assert entry[lang].strip(), (key, lang)
        if "sms" in entry:
            for lang in catalog.LANGUAGES:
                # Short variants fit two segments even with a tracking number filled in.
                assert len(entry["sms"][lang].replace("{tracking}", "KP-1234567")) <= 134, (key, lang)


def test_the_migrations_have_one_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from storage.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1, "add a merge revision"
