"""A scripted citizen for conversation tests: sends through the real path, runs the jobs,
returns the texts the citizen saw."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from conversation import catalog
from conversation.messages import InboundMessage
from gateway.pipeline import receive
from storage.models import Complaint, Contact, Message

_ids = itertools.count(1)


class Citizen:
    def __init__(self, rt, channel: str = "whatsapp", address: str = "+923001234567") -> None:
        self.rt, self.channel, self.address = rt, channel, address

    def send(self, text: str) -> list[str]:
        """Send one message; return the replies it produced, in order."""
        inbound = InboundMessage(channel=self.channel, provider_id=f"test-{next(_ids)}",
                                 sender=self.address, text=text)
        message_id, _new = receive(self.rt, inbound)
        self.rt.queue.run_due()
        return self.replies_after(message_id)

    def file(self, first: str, *, place: str, lang: str = "en", no: str = "no") -> list[list[str]]:
        """File a complaint as a naive citizen does: the problem with the district first, then
        plain answers to what is asked (the place, the first category offered, "no" to the
        last question); returns the replies of each message."""
        seen = [self.send(first)]
        for _ in range(4):
            last = seen[-1][-1]
            if self.complaints():
                break
            if last.startswith(catalog.text("ask_location", lang)):
                seen.append(self.send(place))
            elif last.startswith(catalog.text("ask_category", lang, options="").strip()):
                seen.append(self.send("1"))
            else:
                seen.append(self.send(no))  # the last question: against an officer? no
        return seen

    def replies_after(self, message_id: int) -> list[str]:
        with self.rt.sessions() as s:
            contact_id = s.get(Message, message_id).contact_id
            # What the citizen saw: the full text (a row keeps its personal data encrypted).
            return [m.body for m in s.scalars(select(Message).where(
                Message.contact_id == contact_id, Message.direction == "out",
                Message.id > message_id).order_by(Message.id))]

    def outbox(self) -> list[Message]:
        with self.rt.sessions() as s:
            return list(s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)))

    def complaints(self) -> list[Complaint]:
        with self.rt.sessions() as s:
            return list(s.scalars(select(Complaint).join(Contact, Contact.citizen_id == Complaint.citizen_id)
                                  .where(Contact.channel == self.channel).order_by(Complaint.id)))
