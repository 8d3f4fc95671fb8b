"""The star-schema warehouse on SQLite or PostgreSQL (DESIGN §4)."""
