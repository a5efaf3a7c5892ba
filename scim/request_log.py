"""The bounded per-organization log of SCIM requests, for the provisioning health view."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import Counter
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone

from orgadmin.models import ScimRequestLog, ScimToken

logger = logging.getLogger(__name__)

# Trim an organization's log after this many of its requests (counted in the cache),
# so that the cost of trimming is paid once in a while, never a full scan per request.
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
    """Log one request; a failure to log never changes the answer to the IdP.

    With ORGADMIN_SCIM_REQUEST_LOG_FLUSH_MS above 0 (the default) the row joins this
    process's buffer, which a background thread writes in one INSERT at that interval,
    so a request spends no database round trip on its log; with 0 it is written at
    once, before the answer leaves.
    """
    assert outcome == "" or outcome in ScimRequestLog.Outcome.values, outcome
    row = ScimRequestLog(
        organization_id=token.organization_id,
        token_id=token.pk,
        created_at=timezone.now(),
        method=method,
        path=path,
        status=status,
        duration_ms=max(0, duration_ms),
        outcome=outcome,
        error_detail=error_detail[:2000],
    )
    interval_ms = settings.ORGADMIN_SCIM_REQUEST_LOG_FLUSH_MS
    if interval_ms > 0:
        _buffer.add(row, interval_ms / 1000)
    else:
        write_request_log([row])


def flush_request_log() -> int:
    """Write the rows this process holds now, in the calling thread; how many."""
    return _buffer.flush()


def write_request_log(rows: list[ScimRequestLog]) -> None:
    """Insert `rows` in one statement, then trim the organizations whose request
    count passed a multiple of TRIM_EVERY; errors are logged, never raised."""
    if not rows:
        return
    try:
        _insert(rows)
        per_organization = Counter(row.organization_id for row in rows)
        for organization_id, added in per_organization.items():
            total = _count_requests(organization_id, added)
            if total // TRIM_EVERY > (total - added) // TRIM_EVERY:
                trim_request_log(organization_id)
    except DatabaseError:
        logger.exception("Could not write %d SCIM request log rows", len(rows))


def _insert(rows: list[ScimRequestLog]) -> None:
    """One INSERT of every row, in one round trip, whose commit does not wait for the
    disk.

    The rows commit on their own (autocommit), after the requests' writes. On
    PostgreSQL the RETURNING sets synchronous_commit off for that one transaction:
    the commit then returns before the WAL is flushed, which was the costliest step
    of most SCIM requests (bench/RESULTS.md). A crash of the database server can lose
    the last fraction of a second of log rows, never a member or a team, and never
    breaks consistency; the health view can live with that.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # Inside a transaction (a test's), the setting would cover its other writes.
        ScimRequestLog.objects.bulk_create(rows)
        return
    meta = ScimRequestLog._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    one_row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES {', '.join([one_row] * len(rows))} "
        "RETURNING set_config('synchronous_commit', 'off', true)"
    )
    values = [
        field.get_db_prep_save(field.pre_save(row, add=True), connection)
        for row in rows
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


class _Buffer:
    """This process's unwritten log rows and the daemon thread that writes them.

    The thread starts with the first row (in each gunicorn worker, after the fork)
    and writes every `interval` seconds, in its own database connection; a full
    buffer is written at once by the request that fills it, so a flood holds at
    most MAX_ROWS rows in memory. The rows still held when the process exits
    (gunicorn's graceful stop, max_requests) are written by an atexit handler; a
    killed process loses at most one interval of rows.
    """

    MAX_ROWS = 500

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[ScimRequestLog] = []
        # Notified after each write: how a test sees the thread's work without a sleep.
        self.written = threading.Condition()
        self.interval = 1.0
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def add(self, row: ScimRequestLog, interval: float) -> None:
        with self.lock:
            self.rows.append(row)
            self.interval = interval
            full = len(self.rows) >= self.MAX_ROWS
            if self.thread is None or self.pid != os.getpid():
                self._start()
        if full:
            self.flush()

    def _start(self) -> None:
        # A forked child inherits the rows but not the thread: each process writes
        # only what it logged itself.
        if self.pid and self.pid != os.getpid():
            self.rows = self.rows[-1:]
        self.pid = os.getpid()
        self.thread = threading.Thread(
            target=self._run, name="scim-request-log", daemon=True
        )
        self.thread.start()

    def flush(self) -> int:
        with self.lock:
            rows, self.rows = self.rows, []
        write_request_log(rows)
        with self.written:
            self.written.notify_all()
        return len(rows)

    def stop(self) -> None:
        """End the thread after its current write (the rows held stay held)."""
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.flush()
            finally:
                # This thread's connection is not a request's: close it after an
                # error (the database restarted) or past its age, so that the next
                # flush reconnects.
                if connection.connection is not None:
                    connection.close_if_unusable_or_obsolete()


_buffer = _Buffer()
atexit.register(_buffer.flush)


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


def _count_requests(organization_id: int, added: int) -> int:
    """Add to the organization's request count and return it (one cache operation
    when the key exists)."""
    key = f"scim-request-count:{organization_id}"
    try:
        return cache.incr(key, added)
    except ValueError:  # the first request, or the key was evicted
        cache.set(key, added, timeout=None)
        return added
