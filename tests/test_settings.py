"""Settings: environment over TOML; a bad value stops start-up with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.settings import SettingsError, load_settings


@pytest.mark.parametrize(("env", "value", "words"), [
    ("IKHTIYAR_DATABASE_URL", "mysql://x", "sqlite:/// or postgresql://"),
    ("IKHTIYAR_REDIS_URL", "http://localhost", "redis://"),
    ("IKHTIYAR_DATA_KEY", "c2hvcnQ=", "32 bytes"),
    ("IKHTIYAR_DATA_KEY", "not base64!", "base64"),
    ("IKHTIYAR_PUBLIC_URL", "ftp://x", "http(s)://"),
    ("IKHTIYAR_WEB_LISTEN", "8080", "HOST:PORT"),
    ("IKHTIYAR_OUTBOX_MAX_ATTEMPTS", "0", "greater than or equal to 1"),
    ("IKHTIYAR_TRACKING_PREFIX", "K-P", "Latin letters"),
    ("IKHTIYAR_SECRET_KEY", "a", "at least 32 random bytes"),
    ("IKHTIYAR_SECRET_KEY", "a" * 64, "at least 32 random bytes"),
    ("IKHTIYAR_SECRET_KEY", "c2hvcnQ=", "at least 32 random bytes"),
])
def test_a_bad_value_names_the_setting(monkeypatch, env, value, words):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{env}: ") and words in message and "\n" not in message


def test_environment_wins_over_the_toml_file(monkeypatch, tmp_path):
    toml = tmp_path / "ikhtiyar.toml"
    toml.write_text('tracking_prefix = "PK"\nweb_listen = "0.0.0.0:9000"\n')
    monkeypatch.setenv("IKHTIYAR_CONFIG", str(toml))
    monkeypatch.setenv("IKHTIYAR_TRACKING_PREFIX", "KP")
    settings = load_settings()
    assert settings.tracking_prefix == "KP" and settings.web_listen == "0.0.0.0:9000"


def test_twilio_credentials_use_twilios_own_names(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    assert load_settings().twilio_configured


def test_postgres_urls_use_psycopg3():
    assert load_settings(database_url="postgres://u@h/db").database_url == "postgresql+psycopg://u@h/db"


def test_the_command_prints_one_clear_line_and_fails(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "db", "upgrade"], cwd=tmp_path,
                            env={"IKHTIYAR_DATABASE_URL": "oracle://x", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == \
        "Error: IKHTIYAR_DATABASE_URL: must be a sqlite:/// or postgresql:// URL"


def _command(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "IKHTIYAR_VAR_DIR": str(tmp_path / "var"),
                               "IKHTIYAR_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **env},
                          capture_output=True, text=True, timeout=60)


def test_a_short_secret_key_stops_the_command_with_one_line(tmp_path):
    result = _command(tmp_path, "db", "upgrade", IKHTIYAR_SECRET_KEY="a")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: IKHTIYAR_SECRET_KEY: must be at least 32 random bytes (make one: ikhtiyar keys new)")
    assert not (tmp_path / "x.db").exists()  # nothing was created


@pytest.mark.parametrize("command", ["web", "worker", "smtp", "scheduler"])
def test_production_processes_refuse_to_start_without_explicit_keys(tmp_path, command):
    from tests.conftest import TEST_KEY

    result = _command(tmp_path, command, IKHTIYAR_DATA_KEY=TEST_KEY)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: IKHTIYAR_SECRET_KEY: must be set for `ikhtiyar {command}` (make one: ikhtiyar keys new)")
    assert not (tmp_path / "var").exists() and not (tmp_path / "keys").exists()  # no key generated


def test_generated_keys_live_outside_the_database_folder(tmp_path):
    settings = load_settings(var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/var/x.db")
    said: list[str] = []
    data_key = settings.data_key_bytes(warn=said.append)
    secret = settings.secret_key_bytes(warn=said.append)
    assert len(data_key) == 32 and len(secret) == 32
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["data.key", "secret.key"]
    assert not (tmp_path / "var").exists() or not list((tmp_path / "var").glob("*.key"))
    assert oct((tmp_path / "keys").stat().st_mode & 0o777) == "0o700"
    assert settings.data_key_bytes(warn=said.append) == data_key  # the same key on the next start


def test_keys_generated_by_earlier_versions_beside_the_database_are_moved_and_kept(tmp_path):
    import base64

    (tmp_path / "var").mkdir()
    old = bytes(range(32))
    (tmp_path / "var" / "data.key").write_text(base64.b64encode(old).decode() + "\n")
    settings = load_settings(var_dir=tmp_path / "var")
    said: list[str] = []
    assert settings.data_key_bytes(warn=said.append) == old
    assert not (tmp_path / "var" / "data.key").exists() and (tmp_path / "keys" / "data.key").exists()
    assert "moved" in said[0]


def test_a_keys_folder_can_be_named(tmp_path):
    settings = load_settings(var_dir=tmp_path / "var", keys_dir=tmp_path / "elsewhere")
    settings.secret_key_bytes(warn=lambda _m: None)
    assert (tmp_path / "elsewhere" / "secret.key").exists()
