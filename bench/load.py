"""An HTTP client with keep-alive, a bounded parallel runner and latency statistics."""

from __future__ import annotations

import http.client
import json
import queue
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENTRA_JSON = "application/scim+json; charset=utf-8"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float

    def json(self):
        return json.loads(self.body) if self.body else None


class Client:
    """One keep-alive connection, as one provisioning thread of Entra ID holds.

    Sends Entra ID's Content-Type and no Accept or User-Agent header. A connection the
    server closed while idle (gunicorn's keepalive, a worker replaced after
    max_requests) is reopened and the request sent again, once.
    """

    def __init__(self, base: str, token: str | None, *, timeout: float = 60):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None
        self.reused = False

    def _connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout
            )
            self.reused = False
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, body=None) -> Response:
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ENTRA_JSON
        url = f"{self.prefix}/{path.lstrip('/')}"
        started = time.perf_counter()
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(
                    method, url, body=data, headers=headers, encode_chunked=False
                )
                response = connection.getresponse()
                content = response.read()
            except (http.client.RemoteDisconnected, ConnectionError) as error:
                was_reused = self.reused
                self.close()
                if attempt == 2 or not was_reused:
                    raise ConnectionError(f"{method} {url}: {error}") from error
                continue
            self.reused = True
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return Response(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                content,
                (time.perf_counter() - started) * 1000,
            )
        raise AssertionError("unreachable")


class RoundRobinClient:
    """One keep-alive connection to each of several servers, sending each request to
    the next in turn (a round-robin load balancer in front of several app hosts)."""

    def __init__(self, bases: list[str], token: str | None, *, timeout: float = 60):
        self.clients = [Client(base, token, timeout=timeout) for base in bases]
        self.turn = 0

    def request(self, method: str, path: str, body=None) -> Response:
        client = self.clients[self.turn % len(self.clients)]
        self.turn += 1
        return client.request(method, path, body)

    def close(self) -> None:
        for client in self.clients:
            client.close()


@dataclass
class Sample:
    kind: str
    ms: float
    status: int
    queries: int | None = None
    db_ms: float | None = None


@dataclass
class Phase:
    """The requests of one phase and its wall-clock time."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    timed_out: bool = False
    errors: list[str] = field(default_factory=list)
    # CPU seconds spent during the phase, by whom: "server", "PostgreSQL", "client".
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        return summarize(self.samples, self.seconds)


def summarize(samples: list[Sample], seconds: float) -> dict:
    durations = sorted(s.ms for s in samples)
    if not durations:
        return {"requests": 0, "rps": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0}
    return {
        "requests": len(durations),
        "rps": len(durations) / seconds if seconds else 0.0,
        "p50": statistics.median(durations),
        "p95": percentile(durations, 95),
        "p99": percentile(durations, 99),
    }


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ordered list."""
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Recorder:
    """Collects samples from many threads into the current phase."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase: Phase | None = None
        self.statuses: dict[tuple[str, int], int] = defaultdict(int)

    def record(self, kind: str, response: Response) -> None:
        queries = response.headers.get("x-bench-queries")
        db_ms = response.headers.get("x-bench-db-ms")
        sample = Sample(
            kind,
            response.ms,
            response.status,
            int(queries) if queries else None,
            float(db_ms) if db_ms else None,
        )
        with self.lock:
            self.statuses[(kind, response.status)] += 1
            if self.phase is not None:
                self.phase.samples.append(sample)


def run_parallel(
    phase: Phase,
    items: Iterable,
    work: Callable[[Client, object], None],
    *,
    make_client: Callable[[], Client],
    clients: int,
    time_limit: float,
) -> Phase:
    """Run work(client, item) for every item on `clients` threads, within time_limit.

    Each thread keeps one connection. Past the limit no new item starts and the phase
    is marked timed out; an exception in work() is recorded and the thread goes on.
    """
    pending: queue.Queue = queue.Queue()
    for item in items:
        pending.put(item)
    deadline = time.monotonic() + time_limit
    errors_lock = threading.Lock()

    def thread_main() -> None:
        client = make_client()
        try:
            while time.monotonic() < deadline:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    work(client, item)
                except Exception as error:  # recorded, shown, and fails the run
                    with errors_lock:
                        phase.errors.append(f"{type(error).__name__}: {error}")
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=thread_main) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic() + 60))
    phase.seconds = time.monotonic() - started
    phase.timed_out = not pending.empty() or any(t.is_alive() for t in threads)
    return phase


def format_row(label: str, summary: dict, extra: str = "") -> str:
    return (
        f"  {label:<34} {summary['requests']:6d} req {summary['rps']:8.1f} req/s  "
        f"p50 {summary['p50']:6.1f}  p95 {summary['p95']:6.1f}  "
        f"p99 {summary['p99']:6.1f} ms{extra}"
    )
