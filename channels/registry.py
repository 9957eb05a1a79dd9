"""Every channel type in one list (in the spirit of RapidPro courier's channel types):
its code, what it can carry, the sender that takes its outbound messages and the channel
that carries a message it cannot deliver.

Adding a channel means one new folder and one entry in ``CHANNELS``.

Capabilities say what a citizen on the channel can do with a message:

    rich-chat      a conversation with media, buttons and a 24-hour window (WhatsApp)
    short-text     short texts, answered by a short reply (SMS)
    keypad-voice   a phone call: recorded prompts, answered on the keypad (the phone line)
    one-shot-mail  a mail that stands alone: links to answer, no chat (email)
    clerk-entry    paper: a clerk types the letter in and posts the answer (letters)
    app-timeline   read and answered in the citizen's app session
    status-feed    published as a status for another system to read (Open311)

A channel's ``fallback`` takes what it cannot deliver, at the same phone number.

A channel with no configured provider (no Twilio account, no SMTP relay) hands its messages
to its fallback channel when that one has a provider; a permanent failure (a call nobody
answers, a number that cannot take calls) does the same (gateway.fallback). Without either
the log sender writes the message to the log: a development set-up, never an outbound path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from channels import log_sender
from channels.delivery import Delivered, Outgoing, Rerouted

Sender = Callable[[Outgoing], Delivered]


def _twilio(channel: str) -> Callable[[object], Sender | None]:
    def make(settings) -> Sender | None:
        if not settings.twilio_configured:
            return None
        from channels.twilio.sender import TwilioSender

        return TwilioSender(channel, settings)
    return make


def _voice(settings) -> Sender | None:
    if not (settings.twilio_configured and (settings.twilio_voice_from or settings.twilio_sms_from)):
        return None
    from channels.voice.outbound import VoiceCallSender

    return VoiceCallSender(settings)


def _email(settings) -> Sender | None:
    if not settings.smtp_url:
        return None
    from channels.email.sender import SmtpSender

    return SmtpSender.from_settings(settings)


def _letter(settings) -> Sender:
    from channels.letters.post import PostSender  # no provider: a PDF for a clerk to print and post

    return PostSender.from_settings(settings)


def _app(_settings) -> Sender:
    from channels.app import sender as app_sender  # read on the citizen's timeline in the app

    return app_sender.send


def _open311(_settings) -> Sender:
    from channels.open311 import sender as open311_sender  # published as the request's status

    return open311_sender.send


@dataclass(frozen=True)
class ChannelType:
    code: str
    name: str
    capabilities: frozenset[str]
    sender: Callable[[object], Sender | None]  # settings -> the real sender, None if unconfigured
    fallback: str | None = None  # the channel that carries what this one cannot deliver


CHANNELS: tuple[ChannelType, ...] = (
    # No fallback here: WhatsApp's own sender turns to SMS when WhatsApp refuses (outside
    # the 24-hour window), and both need the same Twilio account.
    ChannelType("whatsapp", "WhatsApp", frozenset({"rich-chat"}), _twilio("whatsapp")),
    ChannelType("sms", "SMS", frozenset({"short-text"}), _twilio("sms")),
    ChannelType("voice", "Phone line", frozenset({"keypad-voice"}), _voice, fallback="sms"),
    ChannelType("email", "Email", frozenset({"one-shot-mail"}), _email),
    ChannelType("letter", "Letter", frozenset({"clerk-entry"}), _letter),
    ChannelType("app", "App", frozenset({"app-timeline"}), _app),
    ChannelType("open311", "Open311", frozenset({"status-feed"}), _open311),
    # A chat held by Rasa's web widget (the action server's "web" sender ids): Rasa answers
    # in the chat itself; what comes later (a status, a question) goes by SMS to a number.
    ChannelType("web", "Web chat (Rasa)", frozenset({"rich-chat"}), lambda _settings: None, fallback="sms"),
)
BY_CODE = {c.code: c for c in CHANNELS}


def channel_type(code: str) -> ChannelType | None:
    return BY_CODE.get(code)


def real_sender(channel: str, settings) -> Sender | None:
    """The channel's sender through its configured provider, or None."""
    found = BY_CODE.get(channel)
    return found.sender(settings) if found else None


def fallback_for(channel: str, settings) -> str | None:
    """The channel that takes this one's undeliverable messages, if it has a provider."""
    found = BY_CODE.get(channel)
    if found is None or found.fallback is None:
        return None
    return found.fallback if real_sender(found.fallback, settings) is not None else None


class NoProvider:
    """The sender of a channel whose provider is not configured but whose fallback's is:
    every message fails permanently at once, and delivery hands it to the fallback."""

    def __init__(self, channel: str, fallback: str) -> None:
        self.channel, self.fallback = channel, fallback

    def __call__(self, outgoing: Outgoing) -> Delivered:
        raise Rerouted(f"{self.channel} has no configured provider; sent by {self.fallback}")


def sender_for(channel: str, settings) -> Sender:
    """The channel's real sender when its provider is configured; else the fallback path;
    else (development, no provider at all) the log sender."""
    real = real_sender(channel, settings)
    if real is not None:
        return real
    fallback = fallback_for(channel, settings)
    if fallback is not None:
        return NoProvider(channel, fallback)
    return log_sender.send
