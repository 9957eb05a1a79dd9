"""Fuzzing campaign: every parser that reads what a stranger sends, fed generated input.

    python bench/fuzz.py --minutes 30            # all parsers, round-robin
    python bench/fuzz.py --minutes 5 --only email_parser,tracking_find

Each parser is driven by hypothesis (no example database: every run explores afresh) with
strategies built from the real fixtures (Twilio's forms, real mails, real scans) mutated,
plus free-form input. A crash is any exception the parser does not promise (a refusal such
as ``WebhookError``, ``MailRejected`` or ``UploadError`` is an answer, not a crash), or a
5xx from a webhook. Prints, per parser, the inputs tried and the crashes found; the exit
status is 1 when anything crashed. Every crash found becomes a regression test.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TWILIO_FIELDS = ("MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "To", "Body",
                 "NumMedia", "NumSegments", "ProfileName", "WaId", "MessageType", "ButtonText",
                 "ButtonPayload", "Latitude", "Longitude", "Address", "Label", "MediaUrl0",
                 "MediaContentType0", "MediaUrl1", "MediaContentType1", "MessageStatus", "SmsStatus",
                 "ErrorCode", "ErrorMessage", "OptOutType", "ReferralNumMedia", "ApiVersion",
                 "ChannelMetadata", "OriginalRepliedMessageSid")
VOICE_FIELDS = ("CallSid", "AccountSid", "From", "To", "Caller", "Called", "CallStatus", "Digits",
                "SpeechResult", "Confidence", "RecordingUrl", "RecordingSid", "RecordingDuration",
                "RecordingStatus", "DialCallStatus", "DialCallDuration", "Direction", "ApiVersion")
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
NUMBERISH = st.from_regex(r"\A[\s+\-0-9۰-۹٠-٩a-zA-Z:.]{0,30}\Z")


def _forms(channel: str) -> list[dict[str, str]]:
    folder = ROOT / "channels" / channel / "fixtures"
    return [dict(parse_qsl(p.read_text(encoding="utf-8").strip(), keep_blank_values=True))
            for p in sorted(folder.glob("*.form"))]


def mutated_forms(seeds: list[dict[str, str]], fields: tuple[str, ...]):
    """A real form with some fields replaced, dropped or added (values of any shape)."""
    value = st.one_of(TEXT, NUMBERISH, st.sampled_from(["", "0", "-1", "1e309", "NaN", "whatsapp:",
                                                        "whatsapp:+", "+", "99999999999999999999",
                                                        "http://127.0.0.1/x", "\x00", "١٢٣"]))
    changes = st.dictionaries(st.one_of(st.sampled_from(fields), TEXT), value, max_size=6)
    drops = st.lists(st.sampled_from(fields), max_size=4)

    @st.composite
    def build(draw):
        form = dict(draw(st.sampled_from(seeds))) if seeds else {}
        for name in draw(drops):
            form.pop(name, None)
        form.update(draw(changes))
        return form

    return build()


def mutated_bytes(seeds: list[bytes], max_size: int = 4096):
    """A real file with bytes flipped, cut, spliced or repeated; or random bytes."""

    @st.composite
    def build(draw):
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 8))):
            kind = draw(st.integers(0, 3))
            if not data:
                break
            at = draw(st.integers(0, len(data) - 1))
            if kind == 0:
                data[at] = draw(st.integers(0, 255))
            elif kind == 1:
                del data[at:at + draw(st.integers(1, 64))]
            elif kind == 2:
                data[at:at] = draw(st.binary(max_size=64))
            else:
                piece = bytes(data[at:at + draw(st.integers(1, 32))])
                data[at:at] = piece * draw(st.integers(1, 16))
        return bytes(data)

    return st.one_of(build(), st.binary(max_size=max_size))


# --- targets ---------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    strategy: object  # hypothesis: structured input
    check: Callable[[object], None]
    decode: Callable[[bytes], object] = bytes  # atheris: raw bytes in the parser's wire format
    seeds: list[bytes] = field(default_factory=list)  # atheris: the starting corpus
    tried: int = 0
    crashes: list[str] = field(default_factory=list)


def as_form(data: bytes) -> dict[str, str]:
    """Bytes as Twilio sends them: an url-encoded form."""
    return dict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def encode_form(form: dict[str, str]) -> bytes:
    return urlencode(form).encode()


def _whatsapp(form):
    from channels.twilio.request import WebhookError
    from channels.whatsapp import adapter

    try:
        msg = adapter.parse(form)
    except WebhookError:
        return
    assert isinstance(msg.text, str)


def _sms(form):
    from channels.sms import adapter
    from channels.twilio.request import WebhookError

    try:
        adapter.parse(form)
    except WebhookError:
        return


def _tracking(text):
    from storage import tracking

    found = tracking.find(text)
    if found.number is not None:
        assert tracking.is_valid(found.number), found
        assert tracking.find(tracking.display(found.number)).number == found.number


def _nlu(text):
    from conversation import nlu

    nlu.understand(text)


def _email(data):
    from channels.email.parser import MailRejected, parse

    try:
        mail = parse(data)
    except MailRejected:
        return
    mail.raw()  # what is stored must be buildable too


def _upload(data):
    from channels.letters.intake import Limits, UploadError, check

    try:
        check(data, Limits(max_bytes=1024 * 1024, max_pages=5, max_pixels=4_000_000))
    except UploadError:
        return


class _Web:
    """A web app on a throwaway SQLite database, Twilio configured, for the webhooks."""

    token = "fuzz-auth-token-0123456789abcdef"
    public = "https://fuzz.example.org"

    def __init__(self) -> None:
        from gateway import jobs
        from gateway import runtime as rt_module
        from gateway.app import create_app
        from gateway.queue import InProcessQueue
        from gateway.settings import load_settings

        folder = Path(tempfile.mkdtemp(prefix="ikhtiyar-fuzz-"))
        key = base64.b64encode(os.urandom(32)).decode()
        settings = load_settings(database_url=f"sqlite:///{folder / 'fuzz.db'}", var_dir=folder,
                                 data_key=key, secret_key=key, redis_url=None,
                                 twilio_account_sid="AC" + "1" * 32, twilio_auth_token=self.token,
                                 public_url=self.public, twilio_sms_from="+15005550006")
        self.rt = rt_module.build(settings, warn=lambda _m: None)
        rt_module.prepare(self.rt, say=lambda _m: None)
        self.rt.queue = InProcessQueue()  # jobs are queued, never run: only the webhook is fuzzed
        jobs.install(self.rt)
        self.client = create_app(self.rt).test_client()

    def post(self, path: str, form: dict[str, str]):
        from channels.twilio.request import sign

        clean = {k: v for k, v in form.items() if "\x00" not in k}
        signature = sign(self.token, self.public + path, clean)
        return self.client.post(path, data=clean, headers={"X-Twilio-Signature": signature})


_WEB: list[_Web] = []


def web() -> _Web:
    if not _WEB:
        _WEB.append(_Web())
    return _WEB[0]


def _status(form):
    response = web().post("/webhooks/twilio/status", form)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]


@st.composite
def _voice_request(draw):
    from conversation.call import STEPS

    step = draw(st.sampled_from(("", *STEPS, "recording", "status")))
    seq = draw(st.one_of(st.integers(-2, 40).map(str), NUMBERISH))
    form = draw(mutated_forms(_VOICE_SEEDS, VOICE_FIELDS))
    return step, seq, form


_VOICE_SEEDS = [
    {"CallSid": "CA" + "a" * 32, "AccountSid": "AC" + "1" * 32, "From": "+923001234567",
     "To": "+15005550006", "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"},
    {"CallSid": "CA" + "b" * 32, "AccountSid": "AC" + "1" * 32, "From": "+923001234568",
     "To": "+15005550006", "CallStatus": "in-progress", "Digits": "1"},
    {"CallSid": "CA" + "b" * 32, "AccountSid": "AC" + "1" * 32, "From": "+923001234568",
     "To": "+15005550006", "CallStatus": "completed", "RecordingUrl": "https://api.twilio.com/x",
     "RecordingSid": "RE" + "c" * 32, "RecordingDuration": "12"},
]


def as_voice(data: bytes):
    from conversation.call import STEPS

    steps = ("", *STEPS, "recording", "status")
    if len(data) < 2:
        return "", "", as_form(data)
    return steps[data[0] % len(steps)], str(data[1] - 2), as_form(data[2:])


def _voice(request):
    step, seq, form = request
    path = "/webhooks/twilio/voice" + (f"/{step}" if step else "")
    response = web().post(f"{path}?n={seq}" if seq else path, form)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]


def _seed_scans() -> list[bytes]:
    from PIL import Image

    image = Image.new("L", (40, 30), 255)
    out = []
    for fmt in ("PNG", "JPEG", "TIFF"):
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        out.append(buffer.getvalue())
    buffer = io.BytesIO()
    image.save(buffer, "TIFF", save_all=True, append_images=[image])
    out.append(buffer.getvalue())
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "PDF", resolution=72)
    out.append(buffer.getvalue())
    return out


def _seed_mails() -> list[bytes]:
    folders = [ROOT / "channels" / "email" / "fixtures", ROOT / "tests" / "fixtures" / "email"]
    return [p.read_bytes() for f in folders if f.exists() for p in sorted(f.glob("*.eml"))]


PHRASES = ["KP-123-456-7890", "kp 1234566", "status", "۱۲۳۴۵۶۶", "yes", "no", "پانی نہیں",
           "Peshawar", "03001234567", "17301-1234567-1", "help", "KP-٩٥٧-٠٧١-٣١٨٧"]


def targets() -> list[Target]:
    phrases = st.sampled_from(PHRASES)
    texts = st.one_of(TEXT, st.lists(st.one_of(phrases, NUMBERISH, TEXT), max_size=6).map(" ".join))
    text_seeds = [p.encode() for p in PHRASES]
    whatsapp, sms = _forms("whatsapp"), _forms("sms")
    statuses = [f for f in whatsapp + sms if "MessageStatus" in f]
    mails, scans = _seed_mails(), _seed_scans()
    voice_seeds = [bytes([i, 3]) + encode_form(f) for i, f in enumerate(_VOICE_SEEDS)]
    return [
        Target("twilio_whatsapp_form", mutated_forms(whatsapp, TWILIO_FIELDS), _whatsapp, as_form,
               [encode_form(f) for f in whatsapp]),
        Target("twilio_sms_form", mutated_forms(sms, TWILIO_FIELDS), _sms, as_form,
               [encode_form(f) for f in sms]),
        Target("twilio_status_callback", mutated_forms(statuses, TWILIO_FIELDS), _status, as_form,
               [encode_form(f) for f in statuses]),
        Target("voice_webhook_dialogue", _voice_request(), _voice, as_voice, voice_seeds),
        Target("tracking_find", texts, _tracking, as_text, text_seeds),
        Target("nlu_understand", texts, _nlu, as_text, text_seeds),
        Target("email_parser", mutated_bytes(mails, 8192), _email, bytes, mails),
        Target("letter_upload", mutated_bytes(scans), _upload, bytes, scans),
    ]


# --- the campaign --------------------------------------------------------------------------


def _signature(exc: BaseException) -> str:
    """Where a crash happened: the exception and the innermost frame of our code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(ROOT) in f.filename
              and "bench" not in f.filename] or traceback.extract_tb(exc.__traceback__)
    where = frames[-1]
    return (f"{type(exc).__name__}: {str(exc)[:200]} "
            f"at {Path(where.filename).relative_to(ROOT) if str(ROOT) in where.filename else where.filename}"
            f":{where.lineno}")


def run(target: Target, examples: int) -> None:
    """``examples`` generated inputs through ``target``; a crash is recorded, not raised."""
    found: dict[str, object] = {}

    def probe(value):
        target.tried += 1
        try:
            target.check(value)
        except Exception as exc:
            found.setdefault(_signature(exc), value)  # the smallest (last shrunk) wins below
            found[_signature(exc)] = value
            raise

    test = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                    phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False)(given(target.strategy)(probe))
    try:
        test()
    except Exception as exc:
        signature = _signature(exc)
        if not any(c.startswith(signature) for c in target.crashes):
            target.crashes.append(f"{signature}\ninput: {found.get(signature)!r}"[:4000])


def campaign(minutes: float, only: set[str] | None = None, batch: int = 2000,
             say=print) -> list[Target]:
    chosen = [t for t in targets() if not only or t.name in only]
    deadline = time.monotonic() + minutes * 60
    while time.monotonic() < deadline:
        for target in chosen:
            if time.monotonic() >= deadline:
                break
            # Slow targets (webhooks through the database, pdfinfo) get smaller batches.
            slow = target.name.startswith(("twilio_status", "voice_", "letter_"))
            run(target, batch // 10 if slow else batch)
        say(f"[{time.strftime('%H:%M:%S')}] " + ", ".join(f"{t.name}={t.tried}" for t in chosen))
    return chosen


def atheris_child(name: str, seconds: int, workdir: Path) -> None:
    """One parser under atheris (libFuzzer) for ``seconds``: coverage-guided, from the real
    payloads as corpus. An unexpected exception is written to ``workdir/crashes`` and the
    run goes on (libFuzzer would stop at the first)."""
    import hashlib

    import atheris

    with atheris.instrument_imports(include=["channels", "conversation", "storage"]):
        import storage.tracking  # noqa: F401
    target = next(t for t in targets() if t.name == name)
    if target.check in (_status, _voice):
        web()  # the database and app are made before the clock starts
    corpus, crashes = workdir / "corpus" / name, workdir / "crashes" / name
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    for seed in target.seeds:
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)

    def one_input(data: bytes) -> None:
        try:
            target.check(target.decode(data))
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            signature = f"{type(exc).__name__}-{Path(where.filename).stem}-{where.lineno}"
            path = crashes / signature
            if not path.exists():
                path.write_bytes(data)
                (crashes / f"{signature}.txt").write_text("".join(traceback.format_exception(exc)))

    atheris.Setup([sys.argv[0], str(corpus), f"-max_total_time={seconds}", "-print_final_stats=1",
                   "-timeout=30", "-rss_limit_mb=3072", "-max_len=65536"], one_input)
    atheris.Fuzz()


def atheris_campaign(minutes: float, only: set[str] | None, say=print) -> list[Target]:
    """Each parser in its own atheris process, one after the other, sharing ``minutes``."""
    import re
    import subprocess

    chosen = [t for t in targets() if not only or t.name in only]
    workdir = Path(tempfile.mkdtemp(prefix="ikhtiyar-atheris-"))
    seconds = max(5, int(minutes * 60 / len(chosen)))
    for target in chosen:
        child = subprocess.run([sys.executable, __file__, "--atheris-child", target.name,
                                "--seconds", str(seconds), "--workdir", str(workdir)],
                               capture_output=True, text=True, errors="replace", check=False)
        runs = re.findall(r"stat::number_of_executed_units: (\d+)", child.stderr)
        target.tried = int(runs[-1]) if runs else 0
        folder = workdir / "crashes" / target.name
        target.crashes = [p.read_text() for p in sorted(folder.glob("*.txt"))] if folder.exists() else []
        if not runs:
            target.crashes.append("the fuzzer stopped:\n" + child.stderr[-3000:])
        say(f"[{time.strftime('%H:%M:%S')}] {target.name}: {target.tried:,} inputs, "
            f"{len(target.crashes)} crashes (inputs kept in {folder})")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--only", default="", help="comma-separated parser names")
    parser.add_argument("--batch", type=int, default=2000, help="inputs per parser per round")
    parser.add_argument("--engine", choices=("hypothesis", "atheris"), default="hypothesis",
                        help="atheris: coverage-guided and much faster (pip install atheris)")
    parser.add_argument("--atheris-child", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.CRITICAL)  # the webhooks log every refusal; the counts say enough
    if args.atheris_child:
        atheris_child(args.atheris_child, args.seconds, args.workdir)
        return 0
    only = {n.strip() for n in args.only.split(",") if n.strip()} or None
    started = time.monotonic()
    if args.engine == "atheris":
        done = atheris_campaign(args.minutes, only, say=lambda line: print(line, flush=True))
    else:
        done = campaign(args.minutes, only, args.batch, say=lambda line: print(line, flush=True))
    elapsed = time.monotonic() - started
    total = sum(t.tried for t in done)
    crashes = sum(len(t.crashes) for t in done)
    print(f"\n{'parser':28} {'inputs':>10} {'crashes':>8}")
    for t in done:
        print(f"{t.name:28} {t.tried:>10,} {len(t.crashes):>8}")
    print(f"{'total':28} {total:>10,} {crashes:>8}   ({elapsed / 60:.1f} min, {total / elapsed:,.0f} inputs/s)")
    for t in done:
        for crash in t.crashes:
            print(f"\n--- crash in {t.name} ---\n{crash}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
