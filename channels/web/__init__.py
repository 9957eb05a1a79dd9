"""The browser channel: the simulator's personas (and later the web form)."""
