"""Socket.IO for Flask (core in progress)."""
