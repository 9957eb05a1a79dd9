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
