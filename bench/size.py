"""Size independence: the same requests on a small and a big organization, and the
100,000-member group read whole.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/size.py [--big 100000] [--repeat 20]

Two databases, each bulk-loaded by bench/fixtures.py (bulk_create, then VACUUM
ANALYZE) and served by its own gunicorn (gunicorn.conf.py, 2 workers):

- small: an organization of 1,100 members, a team of the first 100;
- big: an organization of 101,000 members, a team of the first 100,000.

In each, at least 1,000 members are outside the team, for the PATCH adding 1,000. One
client sends each request to both servers, --repeat times (fewer for the 1,000-member
PATCHes), small first on even rounds and big first on odd ones, and prints the medians and their ratio beside the issue's
target (at most 1.3; the end-of-list page at most 3). Then the big team is read with
all its members: the time and the worker's peak RSS (VmHWM), against 3 s and 300 MB.
Last, EXPLAIN ANALYZE of the SQL behind the userName, externalId and displayName
filters on the big database. Exits 1 when an answer is wrong (a status, a count).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import Client
from bench.servers import (
    Databases,
    Server,
    django_env,
    migrate,
    require_database_url,
    run_fixture,
    vm_hwm_kb,
)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OUTSIDE = 1000


class Side:
    """One loaded database, its server and a keep-alive client."""

    def __init__(self, name: str, data: dict, server: Server):
        self.name, self.data, self.server = name, data, server
        self.client = Client(server.base + "/scim/v2", data["token"], timeout=300)

    def send(self, method: str, path: str, body=None, *, expect=(200,)):
        response = self.client.request(method, path, body)
        if response.status not in expect:
            raise AssertionError(
                f"{self.name}: {method} {path[:80]} -> {response.status} "
                f"{response.body[:200]!r}"
            )
        return response


def members_patch(op: str, ids: list[str]) -> dict:
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": op, "path": "members", "value": [{"value": i} for i in ids]}
        ],
    }


def cases(side: Side) -> dict:
    """Label -> a function sending one request and checking its answer."""
    data = side.data
    team = f"Groups/{data['team_id']}"
    last_page = max(1, data["members"] - 99)

    def listing(path: str, total: int | None, items: int):
        def send():
            body = side.send("GET", path).json()
            assert len(body["Resources"]) == items, (side.name, path, body)
            if total is not None:
                assert body["totalResults"] == total, (side.name, path, body)

        return send

    def patch(op: str, ids: list[str]):
        return lambda: side.send(
            "PATCH", team, members_patch(op, ids), expect=(200, 204)
        )

    one = data["outside"][:1]
    thousand = data["outside"][:OUTSIDE]
    user_name = data["last_user_name"].upper()
    return {
        "lookup by userName (case-insensitive)": listing(
            "Users?filter=" + quote_plus(f'userName eq "{user_name}"'), 1, 1
        ),
        "lookup by externalId": listing(
            "Users?filter="
            + quote_plus(f'externalId eq "{data["middle_external_id"]}"'),
            1,
            1,
        ),
        "list page at the start (count=100)": listing(
            "Users?startIndex=1&count=100", None, 100
        ),
        "list page at the end (count=100)": listing(
            f"Users?startIndex={last_page}&count=100", None, 100
        ),
        "group read without members": lambda: side.send(
            "GET", f"{team}?excludedAttributes=members"
        ),
        "PATCH adding one member": patch("Add", one),
        "PATCH removing one member": patch("Remove", one),
        "PATCH adding 1,000 members": patch("Add", thousand),
        "PATCH removing 1,000 members": patch("Remove", thousand),
    }


def timed(send) -> float:
    started = time.perf_counter()
    send()
    return (time.perf_counter() - started) * 1000


def compare(small: Side, big: Side, repeat: int, deadline: float) -> list[dict]:
    small_cases, big_cases = cases(small), cases(big)
    rows = []
    for label in small_cases:
        times = {"small": [], "big": []}
        pairs = {"small": small_cases[label], "big": big_cases[label]}
        # An add is undone by the following remove, so each repeat starts alike.
        count = max(3, repeat // 4) if "1,000" in label else repeat
        for n in range(count):
            if time.monotonic() > deadline:
                break
            for side in ("small", "big") if n % 2 == 0 else ("big", "small"):
                side_cases = small_cases if side == "small" else big_cases
                if label.startswith("PATCH adding"):
                    times[side].append(timed(pairs[side]))
                    side_cases[label.replace("adding", "removing")]()
                elif label.startswith("PATCH removing"):
                    side_cases[label.replace("removing", "adding")]()
                    times[side].append(timed(pairs[side]))
                else:
                    if n == 0:
                        pairs[side]()  # warm up
                    times[side].append(timed(pairs[side]))
        small_ms = statistics.median(times["small"])
        big_ms = statistics.median(times["big"])
        limit = 3.0 if "at the end" in label else 1.3
        rows.append(
            {
                "label": label,
                "small": small_ms,
                "big": big_ms,
                "ratio": big_ms / small_ms,
                "limit": limit,
                "n": len(times["big"]),
            }
        )
        print(format_case(rows[-1]), flush=True)
    return rows


def format_case(row: dict) -> str:
    ok = row["ratio"] <= row["limit"]
    verdict = "met" if ok else f"NOT MET ({row['ratio'] / row['limit']:.1f}x over)"
    return (
        f"  {row['label']:<40} {row['small']:8.1f} ms {row['big']:9.1f} ms "
        f"{row['ratio']:7.2f}x  (<= {row['limit']:.1f}: {verdict}; n={row['n']})"
    )


def whole_group_read(side: Side, repeat: int) -> dict:
    """GET the team with all its members: time, size and the workers' peak RSS."""
    before = {pid: vm_hwm_kb(pid) for pid in side.server.workers()}
    durations = []
    members = 0
    size = 0
    for _ in range(repeat):
        response = side.send("GET", f"Groups/{side.data['team_id']}")
        durations.append(response.ms)
        size = len(response.body)
        members = len(response.json().get("members") or [])
    side.server.sample_memory()
    after = {pid: vm_hwm_kb(pid) for pid in side.server.workers()}
    assert members == side.data["team_size"], (side.name, members)
    return {
        "ms": statistics.median(durations),
        "max_ms": max(durations),
        "members": members,
        "bytes": size,
        "peak_mb": max(after.values(), default=0) / 1024,
        "before_mb": max(before.values(), default=0) / 1024,
        "n": repeat,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--small-team", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=900)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.time_limit
    with Databases(require_database_url()) as databases:
        template = databases.create("size_template")
        migrate("orgadmin.settings", databases.url(template))
        urls = {
            "small": databases.url(databases.create("small", template=template)),
            "big": databases.url(databases.create("big", template=template)),
        }
        # (members, team size, empty teams): the big organization also has 5,000
        # teams, so that EXPLAIN shows the displayName lookup on a real table.
        shapes = {
            "small": (max(args.small, args.small_team + OUTSIDE), args.small_team, 0),
            "big": (args.big + OUTSIDE, args.big, 5000),
        }
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            loads = {
                name: pool.submit(
                    run_fixture,
                    urls[name],
                    "load",
                    "--members",
                    str(members),
                    "--team",
                    str(team),
                    "--extra-teams",
                    str(teams),
                )
                for name, (members, team, teams) in shapes.items()
            }
            data = {name: future.result() for name, future in loads.items()}
        print(
            f"Size independence: small = {data['small']['members']:,} members, a team "
            f"of {data['small']['team_size']:,}; big = {data['big']['members']:,} "
            f"members, a team of {data['big']['team_size']:,} (loaded in "
            f"{time.monotonic() - started:.0f} s); gunicorn.conf.py, 2 workers each, "
            f"one client, medians; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs"
        )
        servers = {
            name: Server(
                f"orgadmin-{name}",
                "orgadmin.wsgi:application",
                django_env("orgadmin.settings", urls[name]),
                ready_path="/scim/v2/ServiceProviderConfig",
            )
            for name in urls
        }
        failed = False
        with servers["small"], servers["big"]:
            small = Side("small", data["small"], servers["small"])
            big = Side("big", data["big"], servers["big"])
            print(f"  {'request':<40} {'small':>11} {'big':>12} {'ratio':>8}")
            try:
                compare(small, big, args.repeat, deadline)
            except AssertionError as error:
                print(f"  WRONG ANSWER: {error}")
                failed = True
            print("\nA group read with all its members (Okta reads groups whole)")
            for side in (small, big):
                try:
                    read = whole_group_read(side, 3)
                except (AssertionError, ConnectionError) as error:
                    print(f"  {side.name}: FAILED: {error}")
                    failed = True
                    continue
                line = (
                    f"  {side.name}: {read['members']:,} members, "
                    f"{read['bytes'] / 1e6:.1f} MB of JSON, median {read['ms']:.0f} ms "
                    f"(max {read['max_ms']:.0f}, n={read['n']}); worker peak RSS "
                    f"{read['peak_mb']:.0f} MB (before: {read['before_mb']:.0f} MB)"
                )
                if side is big:
                    ok_time = read["ms"] < 3000
                    ok_memory = read["peak_mb"] < 300
                    line += (
                        f"\n    target < 3 s: {'met' if ok_time else 'NOT MET'} "
                        f"({read['ms'] / 3000:.1f}x of it); target < 300 MB: "
                        f"{'met' if ok_memory else 'NOT MET'} "
                        f"({read['peak_mb'] / 300:.1f}x of it)"
                    )
                print(line)
        plans = run_fixture(urls["big"], "explain", "--token", data["big"]["token"])
        print("\nEXPLAIN ANALYZE on the big database (the SQL the filters run)")
        for label in ("userName", "externalId", "displayName", "list page at the end"):
            print(f"\n{label} ({plans[label + '_queries']} queries in the request):")
            for statement in plans[label]:
                print(f"  {statement['sql'][:400]}")
                print("    " + statement["plan"].replace("\n", "\n    "))
        Path("/tmp/bench-size-explain.json").write_text(json.dumps(plans, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
