"""Throwaway PostgreSQL databases and gunicorn servers for the benchmarks.

Each server runs as production does: the project's gunicorn.conf.py (2 workers here),
bound to a free port on 127.0.0.1, DEBUG off, on a database of its own made from a
migrated template, so every run starts from the same empty state.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET_KEY = "bench-only-secret-key-not-for-production-" + "x" * 20


def require_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL server the benchmark may create databases "
            "on, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        )
    return url


class Databases:
    """Databases created on the DATABASE_URL server and dropped on exit."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.prefix = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []

    def url(self, name: str) -> str:
        parts = urlsplit(self.server_url)
        return urlunsplit(parts._replace(path="/" + quote(name)))

    def _execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(sql)

    def create(self, label: str, *, template: str | None = None) -> str:
        """Create an empty database (or a copy of `template`); return its name."""
        name = f"{self.prefix}_{label}_{len(self.created)}"
        sql = f'CREATE DATABASE "{name}"'
        if template:
            sql += f' TEMPLATE "{template}"'
        self._execute(sql)
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, *exc) -> None:
        self.drop_all()


def django_env(settings_module: str, database_url: str, **extra: str) -> dict:
    """The environment of a served app: production settings, plain HTTP on loopback."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        # The throttle still runs on every request; its limit is out of reach.
        "ORGADMIN_SCIM_THROTTLE_RATE": "1000000/min",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def run_python(args: list[str], env: dict, *, timeout: float = 900) -> str:
    """Run `python args...` in the project folder and return its stdout."""
    completed = subprocess.run(
        [PYTHON, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        sys.exit(
            f"{' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
        )
    return completed.stdout


def migrate(settings_module: str, database_url: str) -> None:
    run_python(
        ["-m", "django", "migrate", "--noinput", "-v", "0"],
        django_env(settings_module, database_url),
    )


def run_fixture(database_url: str, *args: str, timeout: float = 1800) -> dict:
    """Run bench/fixtures.py against a database and return the JSON it prints."""
    output = run_python(
        ["bench/fixtures.py", *args],
        django_env("orgadmin.settings", database_url),
        timeout=timeout,
    )
    return json.loads(output.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with the project's gunicorn.conf.py, and the peak memory of its workers."""

    def __init__(
        self,
        name: str,
        wsgi_app: str,
        env: dict,
        *,
        workers: int = 2,
        ready_path: str = "/",
    ):
        self.name = name
        self.wsgi_app = wsgi_app
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ready_path = ready_path
        self.env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
        }
        self.process: subprocess.Popen | None = None
        self.peak_kb: dict[int, int] = {}
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        self.log_path = Path(f"/tmp/{name}-{self.port}.log")

    def start(self, *, timeout: float = 60) -> Server:
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                # Several servers run at once; none needs gunicorn's control socket.
                "--no-control-socket",
                self.wsgi_app,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited at start:\n{self.log_path.read_text()[-3000:]}"
                )
            if len(self.workers()) >= int(self.env["GUNICORN_WORKERS"]) and _answers(
                self.port, self.ready_path
            ):
                break
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s")
        self._sampling.set()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def workers(self) -> list[int]:
        """The worker processes: children of the gunicorn master (from /proc)."""
        if self.process is None:
            return []
        return children_of(self.process.pid)

    def _sample(self) -> None:
        # VmHWM only grows, so sampling often enough catches each worker's peak even
        # when gunicorn replaces it (max_requests) between two samples... almost: a
        # worker's last 0.2 s are missed.
        while self._sampling.is_set():
            self.sample_memory()
            time.sleep(0.2)

    def sample_memory(self) -> None:
        for pid in self.workers():
            kb = vm_hwm_kb(pid)
            if kb:
                self.peak_kb[pid] = max(kb, self.peak_kb.get(pid, 0))

    @property
    def peak_rss_mb(self) -> float:
        return max(self.peak_kb.values(), default=0) / 1024

    @property
    def workers_seen(self) -> int:
        return len(self.peak_kb)

    def stop(self) -> None:
        self.sample_memory()
        self._sampling.clear()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid) if self.process else 0.0

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ServerGroup:
    """Several gunicorn processes serving one database, each on its own port, as
    several app hosts behind a load balancer do; used like one Server."""

    def __init__(self, servers: list[Server]):
        self.servers = servers
        self.name = servers[0].name
        self.process = servers[0].process

    @property
    def bases(self) -> list[str]:
        return [server.base for server in self.servers]

    def start(self) -> ServerGroup:
        for server in self.servers:
            server.start()
        self.process = self.servers[0].process
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    @property
    def peak_rss_mb(self) -> float:
        return max(server.peak_rss_mb for server in self.servers)

    @property
    def workers_seen(self) -> int:
        return sum(server.workers_seen for server in self.servers)

    def __enter__(self) -> ServerGroup:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def children_of(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    return [comm, *text.rsplit(")", 1)[1].split()]


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process, its live children and the children it
    has reaped (cutime, cstime): a gunicorn master and its workers, or the PostgreSQL
    postmaster and its backends, including those that have exited."""
    fields = _stat_fields(root)
    if fields is None:
        return 0.0
    # fields[k] is field k + 2 of proc(5)'s stat: utime (14), stime, cutime, cstime.
    ticks = sum(int(fields[i]) for i in (12, 13, 14, 15))
    for pid in children_of(root):
        child = _stat_fields(pid)
        if child is not None:
            ticks += int(child[12]) + int(child[13])
    return ticks / CLOCK_TICKS


def postmaster_pid() -> int | None:
    """The PostgreSQL postmaster on this machine (a `postgres` whose parent is not)."""
    postgres = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[0] == "postgres":
                postgres[int(entry.name)] = int(fields[2])
    roots = [pid for pid, parent in postgres.items() if parent not in postgres]
    return roots[0] if len(roots) == 1 else None


def vm_hwm_kb(pid: int) -> int:
    """The peak resident set size of a process (VmHWM), in kB; 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _answers(port: int, path: str) -> bool:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()
