"""PostgreSQL advisory locks, so that a periodic command runs once at a time across
every host that cron starts it on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (what pg_advisory_lock takes)."""
    digest = hashlib.sha256(f"orgadmin:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """Hold the session-level lock `name` for the block, if no other session does.

    Yields False at once, without waiting, when another session holds it. The lock
    belongs to the database session: it needs a connection of its own for the whole
    block, so not one through PgBouncer in transaction mode (README, Scaling), and it
    goes when the process dies. Other databases (SQLite in development) serve one
    host, so there the block always runs.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (acquired,) = cursor.fetchone()
    if not acquired:
        yield False
        return
    try:
        yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
