"""Settings: environment variables (prefix ``IKHTIYAR_``) over an optional TOML file.

A bad value stops start-up with one line naming the setting (see ``load_settings``).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming it."""


def _toml_file() -> Path | None:
    named = os.environ.get("IKHTIYAR_CONFIG")
    if named:
        return Path(named)
    local = Path("ikhtiyar.toml")
    return local if local.exists() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IKHTIYAR_", extra="ignore", frozen=True)

    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    queue_name: str = "ikhtiyar"
    public_url: str | None = None
    # Host names Twilio may sign webhooks for when no public URL is set (comma-separated).
    twilio_hosts: str = ""
    trust_proxy: bool = False
    secret_key: str | None = None
    data_key: str | None = None
    # Where `serve` keeps the keys it generates: default a "keys" folder beside var/, never
    # inside the folder that holds the database they protect.
    keys_dir: Path | None = None
    token_days: int = Field(default=90, ge=1, le=3650)
    # The shared secret a Rasa server sends to ``ikhtiyar actions`` (its endpoint's token).
    actions_token: str | None = Field(default=None, min_length=16)
    web_listen: str = "127.0.0.1:8080"
    smtp_listen: str = "127.0.0.1:2525"
    mail_address: str = "complaints@ikhtiyar.localhost"
    smtp_url: str | None = None
    imap_url: str | None = None
    tracking_prefix: str = "KP"
    # None: on only on the embedded default (no Twilio credentials, no public URL).
    simulator: bool | None = None
    # What a citizen sends this long after filing (words, photos, voice notes, a location)
    # joins the complaint just filed instead of starting another.
    follow_up_hours: float = Field(default=24.0, ge=0)
    # Status look-ups of numbers that are not the sender's own complaints, per sender and
    # hour: a citizen checking their complaints never meets it, a guessing client does.
    status_lookups_per_hour: int = Field(default=20, ge=1)
    # Letter files one clerk may upload in ten minutes (a stuck script, a stolen session).
    letter_uploads_per_ten_minutes: int = Field(default=60, ge=1)
    twilio_account_sid: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "IKHTIYAR_TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "IKHTIYAR_TWILIO_AUTH_TOKEN")
    )
    twilio_api_url: str = "https://api.twilio.com"
    # WhatsApp and SMS through Twilio (issue 3): the senders, and per message kind the
    # approved WhatsApp templates (Content SIDs) used outside the 24-hour window, as
    # {"satisfaction_request": "HX...", "satisfaction_request.ur": "HX...", ...}.
    twilio_whatsapp_from: str | None = None
    twilio_sms_from: str | None = None
    # The caller id of the calls the gateway places (a phone complainant's "are you
    # satisfied?"); unset: the SMS number.
    twilio_voice_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_templates: dict[str, str] = Field(default_factory=dict)
    media_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    outbox_max_attempts: int = Field(default=8, ge=1, le=50)
    # Scanned letters (issue 6): per-file size, pages per file, pixels per page.
    letters_max_file_mb: int = Field(default=20, ge=1, le=200)
    letters_max_pages: int = Field(default=20, ge=1, le=200)
    letters_max_pixels: int = Field(default=60_000_000, ge=1_000_000, le=400_000_000)
    # The phone line (issue 4): "0" on the menu dials the call centre during office hours,
    # else the caller leaves a voicemail; recordings are at most voice_record_seconds long.
    voice_call_centre: str | None = None
    voice_office_hours: str = "mon-fri 09:00-17:00"
    voice_timezone: str = "Asia/Karachi"
    voice_record_seconds: int = Field(default=120, ge=10, le=600)
    voice_prompts_dir: Path | None = None  # default: config/prompts
    voice_recording_attempts: int = Field(default=6, ge=1, le=20)
    # Email (issue 5): more addresses the SMTP listener takes mail for (comma-separated),
    # the largest mail (552 beyond it) and the most recipients of one mail.
    mail_aliases: str = ""
    mail_max_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024, le=100 * 1024 * 1024)
    mail_max_recipients: int = Field(default=20, ge=1, le=1000)
    # Sender authentication (channels.email.auth): the authserv-id of our own relay whose
    # Authentication-Results header we trust, and the DNS time budget of DKIM/SPF checks.
    mail_trusted_authserv_id: str = ""
    mail_dns_timeout: float = Field(default=3.0, gt=0, le=30)
    # Automatic answers per hour to one sender address and to one connecting IP: the
    # listener must not become a source of backscatter to forged addresses.
    mail_answers_per_sender: int = Field(default=10, ge=1, le=10_000)
    mail_answers_per_ip: int = Field(default=30, ge=1, le=100_000)
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _toml_file()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and value.split(":", 1)[0].split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://"):]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://"):]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis:// URL")
        return value or None

    @field_validator("public_url", "twilio_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("must be an http(s):// URL")
            return value.rstrip("/")
        return value or None

    @field_validator("twilio_whatsapp_from", "twilio_sms_from", "twilio_voice_from")
    @classmethod
    def _twilio_number(cls, value: str | None) -> str | None:
        number = (value or "").strip().removeprefix("whatsapp:")
        if number and not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16):
            raise ValueError("must be a number in E.164 form, like +14155238886")
        return number or None

    @field_validator("twilio_messaging_service_sid")
    @classmethod
    def _messaging_service(cls, value: str | None) -> str | None:
        if value and not (value.startswith("MG") and len(value) == 34):
            raise ValueError("must be a Messaging Service SID (MG followed by 32 characters)")
        return value or None

    @field_validator("twilio_templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, sid in value.items():
            if not (isinstance(sid, str) and sid.startswith("HX") and len(sid) == 34):
                raise ValueError(f"'{kind}' must map to a Content SID (HX followed by 32 characters)")
        return value

    @field_validator("smtp_url", "imap_url")
    @classmethod
    def _mail_url(cls, value: str | None, info) -> str | None:
        if value:
            schemes = ("smtp", "smtps") if info.field_name == "smtp_url" else ("imap", "imaps")
            parts = urlsplit(value)
            if parts.scheme not in schemes or not parts.hostname:
                raise ValueError(f"must be a {schemes[0]}:// or {schemes[1]}:// URL with a host")
        return value or None

    @field_validator("mail_address")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or ("." not in domain and domain != "localhost"):
            raise ValueError("must be an email address")
        return value.strip()

    @field_validator("web_listen", "smtp_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT")
        return value

    @field_validator("data_key")
    @classmethod
    def _data_key(cls, value: str | None) -> str | None:
        if value:
            try:
                raw = base64.b64decode(value, validate=True)
            except binascii.Error:
                raise ValueError("must be base64 (make one: ikhtiyar keys new)") from None
            if len(raw) != 32:
                raise ValueError(f"must be 32 bytes in base64, got {len(raw)} bytes")
        return value or None

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: str | None) -> str | None:
        if value:
            raw = _key_material(value)
            if len(raw) < 32 or len(set(raw)) < 16:
                raise ValueError("must be at least 32 random bytes (make one: ikhtiyar keys new)")
        return value or None

    @field_validator("tracking_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value.isalpha() or not value.isascii() or len(value) > 5:
            raise ValueError("must be 1-5 Latin letters")
        return value.upper()

    @field_validator("voice_call_centre")
    @classmethod
    def _call_centre(cls, value: str | None) -> str | None:
        number = (value or "").replace(" ", "").replace("-", "")
        if number and not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16):
            raise ValueError("must be a number in E.164 form, like +92915550100")
        return number or None

    @field_validator("voice_office_hours")
    @classmethod
    def _office_hours(cls, value: str) -> str:
        from channels.voice.hours import parse

        parse(value)
        return value

    @field_validator("voice_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from channels.voice.hours import parse

        parse("mon 00:00-01:00", value)
        return value

    # Derived values -------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'ikhtiyar.db').as_posix()}"

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def embedded_default(self) -> bool:
        """The offline single-machine setup: no Twilio credentials and no public URL."""
        return not self.twilio_configured and not self.public_url

    @property
    def simulator_enabled(self) -> bool:
        """IKHTIYAR_SIMULATOR when given; else on only on the embedded default."""
        return self.embedded_default if self.simulator is None else self.simulator

    @property
    def twilio_allowed_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.twilio_hosts.split(",") if h.strip())

    @property
    def effective_keys_dir(self) -> Path:
        return self.keys_dir or self.var_dir.resolve().parent / "keys"

    def require_explicit_keys(self, command: str) -> None:
        """Production processes never generate keys: both must be set."""
        for name, value in (("IKHTIYAR_SECRET_KEY", self.secret_key), ("IKHTIYAR_DATA_KEY", self.data_key)):
            if not value:
                raise SettingsError(f"{name}: must be set for `ikhtiyar {command}` "
                                    "(make one: ikhtiyar keys new)")

    def data_key_bytes(self, warn=print) -> bytes:
        """The PII key: from the setting, else a key file kept in the keys folder (created once)."""
        if self.data_key:
            return base64.b64decode(self.data_key)
        return self._key_file("data.key", "IKHTIYAR_DATA_KEY", warn)

    def secret_key_bytes(self, warn=print) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        return self._key_file("secret.key", "IKHTIYAR_SECRET_KEY", warn)

    def _key_file(self, name: str, setting: str, warn) -> bytes:
        path = self.effective_keys_dir / name
        legacy = self.var_dir / name
        if legacy.exists() and not path.exists():
            # Keys generated by earlier versions lived beside the database: move them out.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(legacy, path)
            warn(f"warning: moved {legacy} to {path} (keys are kept apart from the database)")
        return _key_file(path, 32, setting, warn)


def _key_material(value: str) -> bytes:
    """The bytes of a key given as base64 (as `ikhtiyar keys new` prints) or as plain text."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()
    return raw if len(raw) >= 32 else value.encode()


def _key_file(path: Path, size: int, setting: str, warn) -> bytes:
    if path.exists():
        raw = base64.b64decode(path.read_text().strip())
        if len(raw) != size:
            raise SettingsError(f"{setting}: key file {path} is damaged ({len(raw)} bytes)")
        return raw
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    raw = secrets.token_bytes(size)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(raw).decode() + "\n")
    warn(f"warning: {setting} is not set; generated a key in {path}. Keep it safe: "
         "without it the stored personal data cannot be read.")
    return raw


_ENV_NAMES = {"twilio_account_sid": "TWILIO_ACCOUNT_SID", "twilio_auth_token": "TWILIO_AUTH_TOKEN"}


def load_settings(**overrides) -> Settings:
    """Read the settings, turning the first validation error into one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        name = _ENV_NAMES.get(field, f"IKHTIYAR_{field.upper()}")
        message = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
