"""The citizens' app: JSON from the app (``inbound``) and its outbound, which is the
citizen's timeline in the app itself (``sender``)."""
