"""A hostile PDF and a huge TIFF in OCR never hold up a citizen's reply (`serve`'s
in-process queue: OCR has its own thread), and the PDF is stopped at its limits."""

from __future__ import annotations

import hashlib
import io
import time
import zlib

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from channels.letters import pages
from conversation.messages import InboundMessage
from gateway import jobs, letters_jobs
from gateway.pipeline import receive
from gateway.queue import InProcessQueue
from storage.db import transaction
from storage.letters import Letter, add_letter
from storage.models import Contact, Message, User


def hostile_pdf(fills: int = 300_000) -> bytes:
    """A few kilobytes that inflate to hundreds of thousands of full-page fills."""
    stream = zlib.compress(b"0.5 g 0 0 612 792 re f\n" * fills, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def large_tiff(frames: int = 3, size: tuple[int, int] = (6000, 8500)) -> bytes:
    """A multi-page bilevel TIFF at about the per-page pixel limit (51 million each)."""
    images = []
    for n in range(frames):
        image = Image.new("1", size, 1)
        draw = ImageDraw.Draw(image)
        for row in range(20):
            draw.rectangle((400, 600 + row * 300, 400 + 200 * (row % 7 + n + 3), 640 + row * 300), fill=0)
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, "TIFF", save_all=True, append_images=images[1:], compression="group4", dpi=(600, 600))
    return out.getvalue()


def _letter(rt, data: bytes, kind: str, content_type: str) -> int:
    root = letters_jobs.letters_dir(rt.settings)
    digest = hashlib.sha256(data).hexdigest()
    folder = root / f"isolation-{digest[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"original.{kind}"
    path.write_bytes(data)
    with transaction(rt.sessions) as session:
        clerk = session.scalars(select(User.id)).first()
        return add_letter(session, clerk_id=clerk, filename=path.name, kind=kind, content_type=content_type,
                          size=len(data), sha256=digest, path=str(path.relative_to(root)),
                          page_count=1).id


def _reply_seconds(rt, sender: str, sent_at: float, timeout: float = 10.0) -> float:
    while time.monotonic() - sent_at < timeout:
        with rt.sessions() as s:
            done = s.scalar(select(Message.id).join(Contact, Contact.id == Message.contact_id).where(
                Message.direction == "out", Message.status == "delivered",
                Contact.address_hash == _hash(sender)))
        if done:
            return time.monotonic() - sent_at
        time.sleep(0.01)
    return timeout


def _hash(address: str) -> str:
    from storage.messages import address_hash

    return address_hash(address)


def _states(rt, ids: list[int]) -> dict[int, str]:
    with rt.sessions() as s:
        return {i: s.get(Letter, i).state for i in ids}


@pytest.mark.parametrize("rt", ["sqlite"], indirect=True)
def test_a_hostile_pdf_and_a_huge_tiff_never_delay_a_citizens_reply(rt, monkeypatch):
    monkeypatch.setattr(pages, "PDF_CPU_SECONDS", 4)  # the limit, shortened for the test
    rt.queue = InProcessQueue()
    jobs.install(rt)
    rt.warm()  # as `ikhtiyar serve` does before it takes messages
    rt.queue.start()
    try:
        letters = [_letter(rt, hostile_pdf(), "pdf", "application/pdf"),
                   _letter(rt, large_tiff(), "tiff", "image/tiff")]
        for letter_id in letters:
            rt.queue.enqueue(letters_jobs.read_letter, letter_id)
        time.sleep(0.5)  # OCR is under way
        waits = []
        for n in range(12):
            sender = f"+92300555{n:04d}"
            sent_at = time.monotonic()
            receive(rt, InboundMessage("whatsapp", f"SM-isolation-{n}", sender, "hi"))
            waits.append(_reply_seconds(rt, sender, sent_at))
            time.sleep(0.2)
        busy = _states(rt, letters)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "uploaded" in _states(rt, letters).values():
            time.sleep(0.5)
        after = _states(rt, letters)
    finally:
        rt.queue.stop()
    assert "uploaded" in busy.values()  # the replies came while OCR was still working
    assert max(waits) < 1.0, waits
    pdf, tiff = letters
    assert after[pdf] == "failed" and after[tiff] != "uploaded"
    with rt.sessions() as s:
        assert "too heavy to render" in (s.get(Letter, pdf).error or "")
