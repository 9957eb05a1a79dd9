"""The phone line over Twilio Voice: its form in, the dialogue's replies out as TwiML,
prompt audio, recordings. The dialogue itself is conversation.call."""
