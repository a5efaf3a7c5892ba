"""Bench-only middleware: each response carries its query count and time in SQL.

`X-Bench-Queries` and `X-Bench-Db-Ms`, which bench/entra_sync.py averages per request
kind. With BENCH_QUERY_LOG set, the SQL of the fifth request of each kind (past the
first requests' one-time work) is appended to that file. Served only by
bench/settings_profile.py, never by orgadmin's settings.
"""

import os
import threading
import time

from django.db import connection

QUERY_LOG = os.environ.get("BENCH_QUERY_LOG", "")
SAMPLE_AT = 5
_seen: dict[str, int] = {}
_lock = threading.Lock()


class _Counter:
    def __init__(self) -> None:
        self.statements: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - started, sql))


def request_kind(request) -> str:
    match = request.resolver_match
    name = match.url_name if match else "?"
    parameters = ",".join(sorted(k.lower() for k in request.GET))
    return f"{request.method} {name}" + (f"?{parameters}" if parameters else "")


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = _Counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(len(counter.statements))
        seconds = sum(duration for duration, _ in counter.statements)
        response["X-Bench-Db-Ms"] = f"{seconds * 1000:.2f}"
        if QUERY_LOG:
            self.log_sample(request, response, counter)
        return response

    def log_sample(self, request, response, counter: _Counter) -> None:
        kind = request_kind(request)
        with _lock:
            _seen[kind] = _seen.get(kind, 0) + 1
            if _seen[kind] != SAMPLE_AT:
                return
            with open(QUERY_LOG, "a") as log:
                log.write(
                    f"== {kind} -> {response.status_code}: "
                    f"{len(counter.statements)} queries (pid {os.getpid()})\n"
                )
                for duration, sql in counter.statements:
                    log.write(f"  {duration * 1000:6.2f} ms  {sql[:300]}\n")
