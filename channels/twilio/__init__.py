"""What every Twilio channel shares: request signature checks and the REST client."""
