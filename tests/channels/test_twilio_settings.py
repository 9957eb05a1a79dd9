"""The Twilio settings: a wrong value stops start-up with one line naming it."""

from __future__ import annotations

import pytest

from channels import registry
from channels.twilio.sender import TwilioSender, template_for
from gateway.settings import SettingsError, load_settings

SID = "HX" + "a" * 32


@pytest.mark.parametrize(("values", "named"), [
    ({"twilio_templates": {"satisfaction_request": "not-a-sid"}}, "IKHTIYAR_TWILIO_TEMPLATES"),
    ({"twilio_whatsapp_from": "0300 1234567"}, "IKHTIYAR_TWILIO_WHATSAPP_FROM"),
    ({"twilio_sms_from": "twilio"}, "IKHTIYAR_TWILIO_SMS_FROM"),
    ({"twilio_messaging_service_sid": "AC123"}, "IKHTIYAR_TWILIO_MESSAGING_SERVICE_SID"),
    ({"twilio_api_url": "ftp://mock"}, "IKHTIYAR_TWILIO_API_URL"),
])
def test_a_bad_twilio_setting_is_named(values, named):
    with pytest.raises(SettingsError, match=f"^{named}: "):
        load_settings(**values)


def test_the_whatsapp_sender_may_be_given_with_its_prefix():
    assert load_settings(twilio_whatsapp_from="whatsapp:+14155238886").twilio_whatsapp_from == "+14155238886"


def test_a_template_in_the_citizens_language_is_preferred():
    settings = load_settings(twilio_templates={"status_update": SID, "status_update.ur": "HX" + "b" * 32})
    assert template_for(settings, "status_update", "ur") == "HX" + "b" * 32
    assert template_for(settings, "status_update", "ps") == SID
    assert template_for(settings, "reply", "en") is None


def test_whatsapp_and_sms_use_twilio_only_when_it_is_configured():
    unconfigured = load_settings(twilio_account_sid=None, twilio_auth_token=None)
    assert not isinstance(registry.sender_for("whatsapp", unconfigured), TwilioSender)
    configured = load_settings(twilio_account_sid="AC" + "1" * 32, twilio_auth_token="t" * 32)
    assert isinstance(registry.sender_for("sms", configured), TwilioSender)
    assert not isinstance(registry.sender_for("voice", configured), TwilioSender)
