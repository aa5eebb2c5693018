"""HTTP + WebSocket API."""
