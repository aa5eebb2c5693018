"""Storage interface and the embedded SQLite backend."""
