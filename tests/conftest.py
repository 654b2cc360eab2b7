"""Fixtures shared by every test folder.

``postgres_server``: a throwaway PostgreSQL server started on first use (see
``tests/postgres_server.py``); ask it for a database with ``create_database(name)``.
"""

from postgres_server import postgres_server  # noqa: F401  (a session fixture)
