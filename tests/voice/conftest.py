"""A caller who plays whole calls as the signed webhooks Twilio sends, and a small stand-in
for Twilio's REST API (recordings behind Basic auth, the Messages resource for the SMS)."""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import json
import threading
import wave
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from channels.twilio.request import sign
from gateway import jobs
from gateway.app import create_app

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "AC" + "1" * 32
TOKEN = "voice-test-token"
LINE = "+92915550100"
_sids = itertools.count(1)


def form(name: str, **values: str) -> dict[str, str]:
    """A fixture payload (Twilio's exact fields) with some values replaced."""
    data = dict(parse_qsl((FIXTURES / f"{name}.form").read_text().strip(), keep_blank_values=True))
    data["AccountSid"] = ACCOUNT
    data.update(values)
    return data


def one_second_of_silence() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 8000)
    return out.getvalue()


class TwilioPeer(ThreadingHTTPServer):
    """Serves recordings only with the account's Basic auth; takes SMS on Messages.json."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PeerHandler)
        self.recordings: dict[str, bytes] = {}
        self.sms: list[dict] = []
        self.calls: list[dict] = []  # what Calls.json was asked to place
        self.unauthorized = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def recording_url(self, sid: str) -> str:
        self.recordings[sid] = one_second_of_silence()
        return f"{self.url}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"


class _PeerHandler(BaseHTTPRequestHandler):
    server: TwilioPeer

    def log_message(self, *args) -> None:
        pass

    def _authorized(self) -> bool:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.server.unauthorized += 1
            self.send_response(401)
            self.end_headers()
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorized():
            return
        sid = self.path.rstrip("/").rsplit("/", 1)[-1]
        body = self.server.recordings.get(sid)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/x-wav")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if not self._authorized():
            return
        length = int(self.headers.get("Content-Length") or 0)
        fields = dict(parse_qsl(self.rfile.read(length).decode()))
        if self.path.endswith("/Calls.json"):
            self.server.calls.append(fields)
            sid = f"CA{0xca11:016x}{len(self.server.calls):016x}"
            body = json.dumps({"sid": sid, "account_sid": ACCOUNT, "status": "queued", "to": fields.get("To"),
                               "from": fields.get("From"), "direction": "outbound-api"}).encode()
        else:
            self.server.sms.append(fields)
            sid = f"SM{len(self.server.sms):032d}"
            body = json.dumps({"sid": sid, "account_sid": ACCOUNT, "status": "queued", "to": fields.get("To"),
                               "from": fields.get("From"), "body": fields.get("Body"),
                               "num_segments": "1", "direction": "outbound-api"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session", autouse=True)
def prompt_audio():
    """The prompt files are committed; a prompt added since is built here (CI has espeak-ng)."""
    from channels.voice import prompts
    from channels.voice.audio import PromptLibrary

    if PromptLibrary().missing(list(prompts.texts())):
        prompts.build(say=lambda _m: None)


@pytest.fixture
def twilio_peer():
    peer = TwilioPeer()
    thread = threading.Thread(target=peer.serve_forever, daemon=True)
    thread.start()
    yield peer
    peer.shutdown()
    peer.server_close()


@pytest.fixture
def voice_rt(rt, twilio_peer):
    """The test runtime with Twilio configured (pointing at the stand-in) and a call centre."""
    settings = rt.settings.model_copy(update={
        "twilio_account_sid": ACCOUNT, "twilio_auth_token": TOKEN, "twilio_api_url": twilio_peer.url,
        "twilio_hosts": "localhost",  # no public URL: the host Twilio calls is named instead
        "twilio_sms_from": LINE, "voice_call_centre": "+92915550199",
        "voice_office_hours": "mon-fri 09:00-17:00"})
    voice = dataclasses.replace(rt, settings=settings)
    jobs.install(voice)
    return voice


def office_always_open(rt):
    settings = rt.settings.model_copy(update={"voice_office_hours": "mon-sun 00:00-24:00"})
    voice = dataclasses.replace(rt, settings=settings)
    jobs.install(voice)
    return voice


def office_never_open(rt):
    # A holiday rota with no hours today is not expressible; an office with no call centre
    # number is always "closed".
    settings = rt.settings.model_copy(update={"voice_call_centre": None})
    voice = dataclasses.replace(rt, settings=settings)
    jobs.install(voice)
    return voice


class Caller:
    """One phone call: every request is what Twilio would send, signed with the token.

    Each TwiML answer is parsed as XML; every <Play> URL in it is fetched and must be audio.
    """

    def __init__(self, rt, peer: TwilioPeer, number: str = "+923001234567", client=None) -> None:
        self.rt, self.peer, self.number = rt, peer, number
        self.client = client or create_app(rt).test_client()
        self.sid = f"CA{next(_sids):032d}"
        self.answers: list[ET.Element] = []
        self.raw: list[bytes] = []
        self.sent: tuple[str, dict] | None = None
        self.checked_audio: set[str] = set()

    # --- the wire ---------------------------------------------------------------------------

    def post(self, url: str, data: dict[str, str], *, signed: bool = True):
        parts = urlsplit(url)
        full = f"http://localhost{parts.path}" + (f"?{parts.query}" if parts.query else "")
        headers = {"X-Twilio-Signature": sign(TOKEN, full, data)} if signed else {}
        return self.client.post(full, data=data, headers=headers)

    def twiml(self, url: str, data: dict[str, str]) -> ET.Element:
        response = self.post(url, data)
        self.sent = (url, data)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        root = ET.fromstring(response.data)
        assert root.tag == "Response"
        self._check_audio(root)
        self.answers.append(root)
        self.raw.append(response.data)
        return root

    def _check_audio(self, root: ET.Element) -> None:
        for play in root.iter("Play"):
            url = play.text.strip()
            if url in self.checked_audio:
                continue
            served = self.client.get(urlsplit(url).path)
            assert served.status_code == 200, f"{url} is not served"
            assert served.mimetype.startswith("audio/"), f"{url} is served as {served.mimetype}"
            assert len(served.data) > 500
            self.checked_audio.add(url)

    def _params(self, name: str, **values: str) -> dict[str, str]:
        return form(name, CallSid=self.sid, From=self.number, Caller=self.number, To=LINE, Called=LINE,
                    **values)

    # --- what a caller does -----------------------------------------------------------------

    def dial(self) -> ET.Element:
        return self.twiml("/webhooks/twilio/voice", self._params("incoming_call"))

    @property
    def last(self) -> ET.Element:
        return self.answers[-1]

    def action(self, tag: str) -> str:
        found = self.last.find(f".//{tag}")
        assert found is not None, f"the last answer has no <{tag}>: {ET.tostring(self.last).decode()}"
        return found.get("action")

    def press(self, digits: str) -> ET.Element:
        return self.twiml(self.action("Gather"), self._params("gather_digits", Digits=digits))

    def say(self, words: str) -> ET.Element:
        return self.twiml(self.action("Gather"), self._params("gather_speech", SpeechResult=words))

    def stay_silent(self) -> ET.Element:
        """The <Gather> timed out: Twilio calls its action with no digits."""
        data = self._params("gather_digits", Digits="")
        return self.twiml(self.action("Gather"), data)

    def record(self, seconds: int = 14, hang_up: bool = False) -> tuple[ET.Element, str]:
        recording = f"RE{next(_sids):032d}"
        data = self._params("record_action", RecordingSid=recording, RecordingDuration=str(seconds),
                            RecordingUrl=self.peer.recording_url(recording),
                            Digits="hangup" if hang_up else "#")
        return self.twiml(self.action("Record"), data), recording

    def record_nothing(self) -> ET.Element:
        """An empty recording: Twilio skips the action and follows the <Redirect>."""
        redirect = self.last.find("Redirect")
        return self.twiml(redirect.text.strip(), self._params("gather_digits", Digits=""))

    def recording_ready(self, recording: str, seconds: int = 14) -> None:
        data = form("recording_status", CallSid=self.sid, RecordingSid=recording,
                    RecordingDuration=str(seconds), RecordingUrl=self.peer.recording_url(recording))
        assert self.post("/webhooks/twilio/voice/recording", data).status_code == 204

    def dial_result(self, status: str) -> ET.Element:
        return self.twiml(self.action("Dial"), self._params("dial_action", DialCallStatus=status))

    def hang_up(self) -> None:
        data = self._params("call_completed")
        assert self.post("/webhooks/twilio/voice/status", data).status_code == 204


def spoken(root: ET.Element) -> list[str]:
    """What an answer says: prompt names for <Play>, the text for <Say>, in order."""
    out = []
    for node in root.iter():
        if node.tag == "Play":
            out.append(node.text.strip().rsplit("/", 1)[-1].rsplit(".", 1)[0])
        elif node.tag == "Say":
            out.append(node.text)
    return out


def played_languages(root: ET.Element) -> set[str]:
    return {node.text.split("/audio/prompts/")[1].split("/")[0] for node in root.iter("Play")}


@pytest.fixture
def caller(voice_rt, twilio_peer):
    def make(number: str = "+923001234567", rt=None) -> Caller:
        return Caller(rt or voice_rt, twilio_peer, number)
    return make
