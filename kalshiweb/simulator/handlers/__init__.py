"""REST handlers, one module per area. Each translates a `Request` into engine calls and wire JSON."""
