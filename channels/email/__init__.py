"""Email: inbound over SMTP (aiosmtpd) and IMAP (imapclient), outbound over SMTP."""
