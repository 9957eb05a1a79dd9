"""The phone line: an IVR over Twilio Voice (TwiML steps, prompt audio, recordings)."""
