"""The Alembic migrations of the database schema (`env.py`, revisions in `versions/`)."""
