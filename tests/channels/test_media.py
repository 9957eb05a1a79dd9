"""The media download: photos and voice notes become attachments; nothing is fetched
from private addresses; Twilio's credentials go only to Twilio."""

from __future__ import annotations

import base64

from sqlalchemy import select

from gateway import media
from storage.models import Attachment, Complaint, Message
from tests.channels.conftest import ACCOUNT_SID, AUTH_TOKEN, load_form, reconfigure
from tests.channels.test_whatsapp import PATH, inbound

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 500
OGG = (b"OggS\x00\x02" + (0).to_bytes(8, "little") + b"\x00" * 14 + b"OpusHead\x01\x01" + b"\x00" * 200
       + b"OggS\x00\x04" + (48000 * 3).to_bytes(8, "little") + b"\x00" * 20)


def media_path(form: dict) -> str:
    return form["MediaUrl0"].removeprefix("https://api.twilio.com")


def send_media(rt, server, name: str, status: int = 200, body: bytes = JPEG, content_type: str = "image/jpeg",
               headers: dict | None = None, url: str | None = None):
    from tests.channels.conftest import Twilio

    form = load_form("whatsapp", name)
    path = media_path(form)
    server.media[path] = (status, {"Content-Type": content_type, **(headers or {})}, body)
    form["MediaUrl0"] = url or server.url + path
    assert Twilio(rt).post(PATH, form).status_code == 200
    rt.queue.run_due()
    return form


def attachments(rt) -> list[Attachment]:
    with rt.sessions() as s:
        return list(s.scalars(select(Attachment).order_by(Attachment.id)))


def media_status(rt) -> dict:
    return inbound(rt)[0].payload.get("media_status")


def test_a_photo_is_downloaded_with_twilios_credentials_and_joins_the_complaint(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    send_media(rt, twilio_errors, "media_only")
    [request] = twilio_errors.media_requests
    assert request["auth"] == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    [attachment] = attachments(rt)
    assert attachment.content_type == "image/jpeg" and attachment.size == len(JPEG)
    assert (rt.attachments_dir / attachment.path).read_bytes() == JPEG
    assert attachment.conversation_id is not None and attachment.complaint_id is None
    from tests.channels.conftest import Twilio

    for i, text in enumerate(("The garbage has not been collected for two weeks", "Mardan",
                              "Near the main bus stand on Bank Road", "yes", "skip", "yes")):
        form = {**load_form("whatsapp", "inbound_text"), "Body": text, "MessageSid": f"SM{i:032x}"}
        Twilio(rt).post(PATH, form)
        rt.queue.run_due()
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
    assert attachments(rt)[0].complaint_id == complaint.id


def test_a_voice_note_is_kept_as_audio_with_its_length(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    send_media(rt, twilio_errors, "voice_note", body=OGG, content_type="audio/ogg")
    [attachment] = attachments(rt)
    assert attachment.content_type == "audio/ogg" and attachment.path.endswith(".ogg")
    assert attachment.duration_seconds == 3.0


def test_a_media_url_on_a_private_address_is_never_fetched(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url="https://api.twilio.com")
    send_media(rt, twilio_errors, "media_only")
    assert twilio_errors.media_requests == [] and attachments(rt) == []
    assert media_status(rt)["0"].startswith("refused: ")


def test_a_redirect_elsewhere_is_checked_again_and_gets_no_credentials(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    port = twilio_errors.url.rsplit(":", 1)[1]
    send_media(rt, twilio_errors, "media_only", status=302,
               headers={"Location": f"http://localhost:{port}/elsewhere.jpg"})
    assert len(twilio_errors.media_requests) == 1  # the redirect target was refused unfetched
    assert "private or local" in media_status(rt)["0"] and attachments(rt) == []


def test_too_large_a_file_is_refused(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url, media_max_bytes=1024)
    send_media(rt, twilio_errors, "media_only", body=JPEG + b"\x00" * 2000)
    assert "allowed" in media_status(rt)["0"] and attachments(rt) == []


def test_a_type_not_accepted_is_refused(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    send_media(rt, twilio_errors, "media_only", body=b"<html>", content_type="text/html")
    assert "not accepted" in media_status(rt)["0"] and attachments(rt) == []


def test_a_file_that_is_not_what_it_claims_is_refused(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    send_media(rt, twilio_errors, "media_only", body=b"MZ\x90\x00 not a jpeg")
    assert "not image/jpeg" in media_status(rt)["0"] and attachments(rt) == []


def test_a_server_error_is_retried_later(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    send_media(rt, twilio_errors, "media_only", status=503)
    assert media_status(rt)["0"].startswith("retrying") and attachments(rt) == []


def test_twilio_hosts_are_recognised_and_others_are_not(trt):
    assert media.is_twilio_host("api.twilio.com", 443, trt.settings)
    assert media.is_twilio_host("media.us1.twilio.com", 443, trt.settings)
    assert not media.is_twilio_host("api.twilio.com.evil.example", 443, trt.settings)
    assert not media.is_twilio_host("eviltwilio.com", 443, trt.settings)


def test_a_message_row_keeps_the_download_outcome(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    send_media(rt, twilio_errors, "media_only")
    with rt.sessions() as s:
        assert s.scalars(select(Message.payload).where(Message.direction == "in")).one()["media_status"] == {"0": "stored"}


# IPv6 forms that carry an IPv4 address inside: each reaches the IPv4 address it embeds
# (through a NAT64 gateway, a 6to4 relay, Teredo or a dual stack), so each is as private as it.
EMBEDDED_PRIVATE = [
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata address
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215)
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.1.2.3",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]


def test_ipv6_addresses_carrying_a_private_ipv4_address_are_never_fetched(trt):
    import pytest

    for address in EMBEDDED_PRIVATE:
        with pytest.raises(media.MediaRefused, match="private or local"):
            media.fetch(f"http://[{address}]/photo.jpg", trt.settings)


def test_ipv6_addresses_carrying_a_public_ipv4_address_stay_public():
    assert media._public("64:ff9b::808:808")  # NAT64 of 8.8.8.8
    assert media._public("2002:808:808::1")  # 6to4 of 8.8.8.8
    assert media._public("2a00:1450:4001:82a::200e")  # plain global IPv6


def test_a_redirect_to_a_nat64_form_of_localhost_is_refused(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    port = twilio_errors.url.rsplit(":", 1)[1]
    send_media(rt, twilio_errors, "media_only", status=302,
               headers={"Location": f"http://[64:ff9b::7f00:1]:{port}/elsewhere.jpg"})
    assert len(twilio_errors.media_requests) == 1
    assert "private or local" in media_status(rt)["0"] and attachments(rt) == []
