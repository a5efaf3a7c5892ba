"""The server's own CPU per request kind, in process, and where it goes (cProfile).

Serves requests straight through orgadmin's WSGI application (orgadmin's settings and
middleware, PostgreSQL from DATABASE_URL on a database made for the run), with no
gunicorn and no client in the way, so the figures are the application's CPU time
(`time.thread_time`, PostgreSQL's own work not included), less swayed by other load
than requests per second (though a busy or throttled CPU still slows every figure):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/cpu_profile.py [--users 1000] [--profile KIND] [--top 40]

Kinds: lookup (GET Users?filter=userName eq), create (POST Users), rename and
deactivate (PATCH Users), group-add (PATCH Groups adding 10 members). `--profile KIND`
prints cProfile's top functions for that kind, by own and by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import (
    SECRET_KEY,
    Databases,
    require_database_url,
    run_fixture,
)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
KINDS = ("lookup", "create", "rename", "deactivate", "group-add")


class Wsgi:
    """Requests through the WSGI handler, as gunicorn would hand them over."""

    def __init__(self, token: str):
        from orgadmin.handlers import SiteAndApiHandler

        self.handler = SiteAndApiHandler()  # as orgadmin/wsgi.py serves
        self.token = token

    def request(self, method: str, path: str, body=None) -> tuple[int, dict | None]:
        from django.test import RequestFactory

        environ = (
            RequestFactory(HTTP_HOST="127.0.0.1")
            .generic(
                method,
                "/scim/v2/" + path,
                json.dumps(body) if body is not None else "",
                content_type="application/scim+json; charset=utf-8",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            .environ
        )
        status: list[str] = []
        chunks = self.handler(environ, lambda s, h, exc=None: status.append(s))
        content = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
        code = int(status[0].split()[0])
        return code, json.loads(content) if content else None


def user_body(i: int) -> dict:
    return {
        "schemas": [USER],
        "userName": f"cpu{i:06d}@bench.example",
        "externalId": f"cpu-ext-{i:06d}",
        "active": True,
        "displayName": f"Given{i} Family{i}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "emails": [
            {"primary": True, "type": "work", "value": f"cpu{i:06d}@bench.example"}
        ],
    }


def requests_of(kind: str, i: int, ids: list[str], group: str) -> tuple:
    if kind == "lookup":
        name = f"cpu{i:06d}@bench.example".replace("@", "%40")
        return "GET", f"Users?filter=userName+eq+%22{name}%22", None
    if kind == "create":
        return "POST", "Users", user_body(i)
    if kind == "rename":
        operation = {"op": "Replace", "path": "displayName", "value": f"Renamed {i}"}
        return (
            "PATCH",
            f"Users/{ids[i]}",
            {"schemas": [PATCH], "Operations": [operation]},
        )
    if kind == "deactivate":
        operation = {"op": "Replace", "path": "active", "value": "False"}
        return (
            "PATCH",
            f"Users/{ids[i]}",
            {"schemas": [PATCH], "Operations": [operation]},
        )
    members = [{"value": ids[(i * 10 + k) % len(ids)]} for k in range(10)]
    operation = {"op": "Add", "path": "members", "value": members}
    return "PATCH", f"Groups/{group}", {"schemas": [PATCH], "Operations": [operation]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--profile", choices=KINDS)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    with Databases(require_database_url()) as databases:
        name = databases.create("cpu")
        url = databases.url(name)
        prepared = run_fixture(url, "prepare", "--migrate")
        os.environ.update(
            DJANGO_SETTINGS_MODULE="orgadmin.settings",
            DATABASE_URL=url,
            DJANGO_SECRET_KEY=SECRET_KEY,
            DJANGO_DEBUG="0",
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SECURE_SSL_REDIRECT="0",
            ORGADMIN_SCIM_THROTTLE_RATE="1000000/min",
            DJANGO_LOG_LEVEL="WARNING",
        )
        import django

        django.setup()
        try:
            run(Wsgi(prepared["token"]), args)
        finally:
            from django.db import connections

            from scim.request_log import flush_request_log

            flush_request_log()  # before the database goes
            connections.close_all()


def run(client: Wsgi, args) -> None:
    count = args.users
    status, _ = client.request("GET", "ServiceProviderConfig")  # imports, connection
    assert status == 200, status
    status, body = client.request(
        "POST", "Groups", {"schemas": [GROUP], "displayName": "CPU group"}
    )
    assert status == 201, (status, body)
    group = body["id"]
    ids: list[str] = []
    cpu: dict[str, list[float]] = {}
    profiler = cProfile.Profile()
    for kind in KINDS:
        times = cpu.setdefault(kind, [])
        rounds = count // 10 if kind == "group-add" else count
        for i in range(rounds):
            method, path, body = requests_of(kind, i, ids, group)
            profiling = kind == args.profile
            started = time.thread_time()
            if profiling:
                profiler.enable()
            status, answer = client.request(method, path, body)
            if profiling:
                profiler.disable()
            times.append((time.thread_time() - started) * 1000)
            if status >= 300:
                sys.exit(f"{kind}: {method} {path} answered {status}: {answer}")
            if kind == "create":
                ids.append(answer["id"])
    print(
        f"In process, orgadmin's settings on PostgreSQL, {count:,} users; "
        "the application's CPU ms per request (thread time, without PostgreSQL's):"
    )
    for kind, times in cpu.items():
        ordered = sorted(times)
        print(
            f"  {kind:<11} {len(times):6d} req   median {statistics.median(times):6.3f}"
            f"   mean {statistics.mean(times):6.3f}"
            f"   p90 {ordered[int(len(ordered) * 0.9)]:6.3f} ms"
        )
    if args.profile:
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats(order).print_stats(args.top)
            print(f"\ncProfile of {args.profile}, by {order}:")
            print(text.getvalue().split("\n\n", 2)[-1][:20000])


if __name__ == "__main__":
    main()
