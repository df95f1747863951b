"""HTTP API: JSON over HTTP, server-sent events, Prometheus metrics."""
