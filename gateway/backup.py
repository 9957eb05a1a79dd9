"""``ikhtiyar backup`` and ``ikhtiyar restore``: the database and the var folder's files in
one archive, and a check on restore that the data key in use can read what came back.

The archive (tar.gz) holds ``manifest.json``, the database (``database.dump`` from pg_dump
in its custom format, or ``database.sqlite`` from SQLite's online backup API, consistent
while the gateway runs) and ``var/``: attachments, scanned letters, call recordings, the
spool. Keys are never in it: the data key travels separately, and restore refuses to finish
silently when the key in use cannot decrypt the restored data.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.crypto import vault

# nlu: the trained understanding and the officers' corrections `ikhtiyar nlu retrain` kept
FOLDERS = ("attachments", "letters", "recordings", "spool", "nlu")
FORMAT = 1


class BackupError(RuntimeError):
    """What went wrong, in words for the operator."""


def _libpq_url(rt) -> str:
    url = make_url(rt.settings.effective_database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    return found


def backup(rt, out: Path) -> dict:
    """Write the archive to ``out``; returns its manifest."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="ikhtiyar-backup-") as tmp:
        work = Path(tmp)
        if rt.engine.dialect.name == "postgresql":
            name = "database.dump"
            done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-acl",  # noqa: S603
                                   f"--file={work / name}", _libpq_url(rt)], capture_output=True, check=False)
            if done.returncode != 0:
                raise BackupError("pg_dump failed: " + done.stderr.decode("utf-8", "replace").strip()[-300:])
        else:
            name = "database.sqlite"
            source = sqlite3.connect(make_url(rt.settings.effective_database_url).database)
            target = sqlite3.connect(work / name)
            with target:
                source.backup(target)
            source.close()
            target.close()
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
                    "database": name, "dialect": rt.engine.dialect.name,
                    "folders": [f for f in FOLDERS if (Path(rt.settings.var_dir) / f).is_dir()]}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(work / "manifest.json", "manifest.json")
            archive.add(work / name, name)
            for folder in manifest["folders"]:
                archive.add(Path(rt.settings.var_dir) / folder, f"var/{folder}")
        os.replace(partial, out)  # never a half-written backup under the real name
    return manifest


def restore(rt, archive_path: Path) -> dict:
    """Restore the archive into the configured database (PostgreSQL: its objects replaced;
    SQLite: the file replaced, so no process may have it open) and var folder; then check
    that the data key decrypts what came back."""
    with tempfile.TemporaryDirectory(prefix="ikhtiyar-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive_path, "r:gz") as archive:
            archive.extractall(work, filter="data")
        manifest = json.loads((work / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"unknown backup format {manifest.get('format')!r}")
        if manifest["dialect"] != rt.engine.dialect.name:
            raise BackupError(f"this is a {manifest['dialect']} backup; the configured database is "
                              f"{rt.engine.dialect.name}")
        rt.engine.dispose()
        if manifest["dialect"] == "postgresql":
            done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-acl",  # noqa: S603
                                   "--single-transaction", f"--dbname={_libpq_url(rt)}",
                                   str(work / manifest["database"])], capture_output=True, check=False)
            if done.returncode != 0:
                raise BackupError("pg_restore failed: " + done.stderr.decode("utf-8", "replace").strip()[-300:])
        else:
            target = make_url(rt.settings.effective_database_url).database
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(target + suffix).unlink(missing_ok=True)
            shutil.copyfile(work / manifest["database"], target)
        var = Path(rt.settings.var_dir)
        for folder in manifest["folders"]:
            shutil.copytree(work / "var" / folder, var / folder, dirs_exist_ok=True)
    check_key(rt)
    return manifest


def check_key(rt) -> int:
    """Decrypt a sample of the restored data with the key in use; BackupError if it cannot."""
    with rt.sessions() as session:
        sealed = session.execute(text("SELECT address FROM contacts ORDER BY id LIMIT 20")).scalars().all()
    for value in sealed:
        try:
            vault().decrypt(value)
        except Exception as exc:  # a wrong key fails authentication (InvalidTag), not just DecryptionError
            raise BackupError("the data key in use cannot decrypt the restored data: set "
                              "IKHTIYAR_DATA_KEY to the key of the backed-up installation") from exc
    return len(sealed)
