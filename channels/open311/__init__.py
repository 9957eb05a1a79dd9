"""Open311 GeoReport v2: service requests from civic-tech clients (``inbound``), the
specification's JSON and XML (``wire``), and the outbound sender for requests filed
without a contact (``sender``)."""
