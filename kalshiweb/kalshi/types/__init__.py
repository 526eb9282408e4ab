"""Kalshi's wire format, declared once as ``msgspec.Struct`` types: ``ws`` (WebSocket messages), ``rest`` (REST
responses and requests), ``scalars`` (fixed-point dollars and counts, timestamps, the decoder). The client
decodes them and the simulator builds and encodes them."""
