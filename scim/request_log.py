"""The bounded per-organization log of SCIM requests, for the provisioning health view."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import DatabaseError, connection

from orgadmin.models import ScimRequestLog, ScimToken

logger = logging.getLogger(__name__)

# Trim an organization's log after this many of its requests (per process), so that
# the cost of trimming is paid once in a while, never a full scan per request.
TRIM_EVERY = 100
# Query parameters worth keeping; anything else (a token pasted into a URL) is dropped.
LOGGED_PARAMETERS = {
    "filter",
    "startindex",
    "count",
    "attributes",
    "excludedattributes",
    "sortby",
    "sortorder",
}


def loggable_path(request) -> str:
    kept = [
        (key, value)
        for key, value in request.GET.items()
        if key.lower() in LOGGED_PARAMETERS
    ]
    path = request.path + (f"?{urlencode(kept)}" if kept else "")
    return path[:500]


def record_request(
    token: ScimToken,
    *,
    method: str,
    path: str,
    status: int,
    duration_ms: int,
    outcome: ScimRequestLog.Outcome | str = "",
    error_detail: str = "",
) -> None:
    """Write one row; a failure to log never changes the answer to the IdP."""
    assert outcome == "" or outcome in ScimRequestLog.Outcome.values, outcome
    try:
        _insert(
            ScimRequestLog(
                organization_id=token.organization_id,
                token=token,
                method=method,
                path=path,
                status=status,
                duration_ms=max(0, duration_ms),
                outcome=outcome,
                error_detail=error_detail[:2000],
            )
        )
        if _count_request(token.organization_id) % TRIM_EVERY == 0:
            trim_request_log(token.organization_id)
    except DatabaseError:
        logger.exception("Could not write the SCIM request log")


def _insert(row: ScimRequestLog) -> None:
    """One INSERT, in one round trip, whose commit does not wait for the disk.

    The row commits on its own (autocommit), after the request's writes. On
    PostgreSQL its RETURNING sets synchronous_commit off for that one transaction:
    the commit then returns before the WAL is flushed, which was the costliest step
    of most SCIM requests (bench/RESULTS.md). A crash of the database server can lose
    the last fraction of a second of log rows, never a member or a team, and never
    breaks consistency; the health view can live with that.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # Inside a transaction (a test's), the setting would cover its other writes.
        row.save(force_insert=True)
        return
    meta = ScimRequestLog._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        "RETURNING set_config('synchronous_commit', 'off', true)"
    )
    values = [
        field.get_db_prep_save(field.pre_save(row, add=True), connection)
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def trim_request_log(organization_id: int) -> int:
    """Keep the newest KEEP_PER_ORGANIZATION rows of one organization."""
    newest = ScimRequestLog.objects.filter(organization_id=organization_id).order_by(
        "-created_at", "-pk"
    )
    boundary = newest.values_list("created_at", "pk")[
        ScimRequestLog.KEEP_PER_ORGANIZATION : ScimRequestLog.KEEP_PER_ORGANIZATION + 1
    ]
    boundary = list(boundary)
    if not boundary:
        return 0
    created_at, pk = boundary[0]
    deleted, _ = (
        ScimRequestLog.objects.filter(
            organization_id=organization_id, created_at__lte=created_at
        )
        .exclude(created_at=created_at, pk__gt=pk)
        .delete()
    )
    return deleted


def _count_request(organization_id: int) -> int:
    """The organization's request count (one cache operation when the key exists)."""
    key = f"scim-request-count:{organization_id}"
    try:
        return cache.incr(key)
    except ValueError:  # the first request, or the key was evicted
        cache.set(key, 1, timeout=None)
        return 1
