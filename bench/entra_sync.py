"""An Entra-like sync against real servers, with the state read back and verified.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/entra_sync.py [--compare-peer] [--profile DIR]

Starts orgadmin under gunicorn (the project's gunicorn.conf.py, 2 workers, a free port
on 127.0.0.1) on a fresh database, then sends what Microsoft Entra ID sends on 4
threads with keep-alive connections (tests/scim/test_entra_requests.py has the
shapes):

1. users: `GET /Users?filter=userName eq "..."` (none found), then `POST /Users`;
2. groups: `GET /Groups?excludedAttributes=members&filter=displayName eq "..."`,
   `POST /Groups` without members, `PATCH` adding members (--member-batch per
   request), `GET /Groups/{id}?excludedAttributes=members`;
3. incremental: renames (`GET /Users/{id}`, `PATCH` Replace displayName and names),
   deactivations (`PATCH` Replace active "False"), single-member removals (`GET` the
   group, `PATCH` Remove path members with a value list), in a shuffled order;
4. verify: every user (by pages of 100) and every group (found by displayName, then
   read with members) compared with what was sent.

The floor (bench/floor.py) runs the user phase on the same gunicorn setup, so the user
phase's share is a ratio; --compare-peer adds stock django-scim2 (bench/peer/). Each
server runs --rounds times, interleaved (A B A B), each time on a new copy of a
migrated template database. Every phase is bounded by its item count and --time-limit.
Exits 1 when orgadmin's (or --base's) state differs from what was sent, a request
failed, or a phase ran out of time; the peer's differences are reported, not fatal.

    .venv/bin/python bench/entra_sync.py --base https://host/scim/v2 --token SECRET

points the same sync at any SCIM server (user names on --domain, which that
organization must have verified).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import (
    Client,
    Phase,
    Recorder,
    Response,
    RoundRobinClient,
    format_row,
    run_parallel,
    summarize,
)
from bench.servers import (
    Databases,
    Server,
    ServerGroup,
    django_env,
    migrate,
    postmaster_pid,
    require_database_url,
    run_fixture,
    tree_cpu_seconds,
)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PEER_TOKEN = "peer-bench-token"
SYNC_PHASES = ("users", "groups", "incremental")


# ---------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """What one sync sends, the same for every server (from one seed)."""

    users: int
    groups: int
    memberships: int
    renames: int
    deactivations: int
    removals: int
    member_batch: int
    domain: str
    seed: int = 11
    members: dict[int, list[int]] = field(default_factory=dict)
    renamed: list[int] = field(default_factory=list)
    deactivated: list[int] = field(default_factory=list)
    removed: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        per_group, extra = (
            divmod(self.memberships, self.groups) if self.groups else (0, 0)
        )
        if per_group + (1 if extra else 0) > self.users:
            sys.exit("--memberships per group exceeds --users")
        for g in range(self.groups):
            size = per_group + (1 if g < extra else 0)
            self.members[g] = sorted(rng.sample(range(self.users), size))
        if self.renames + self.deactivations > self.users:
            sys.exit("--renames + --deactivations exceeds --users")
        chosen = rng.sample(range(self.users), self.renames + self.deactivations)
        self.renamed = chosen[: self.renames]
        self.deactivated = chosen[self.renames :]
        pairs = [(g, i) for g, members in self.members.items() for i in members]
        self.removed = rng.sample(pairs, min(self.removals, len(pairs)))

    def user_name(self, i: int) -> str:
        return f"sync{i:05d}@{self.domain}"

    def group_name(self, g: int) -> str:
        return f"Sync Group {g:03d}"

    def create_user(self, i: int) -> dict:
        # Microsoft's "Create User" request (tutorial), with a displayName.
        return {
            "schemas": [USER, ENTERPRISE],
            "externalId": str(uuid.UUID(int=i + 1)),
            "userName": self.user_name(i),
            "active": True,
            "displayName": f"Given{i} Family{i}",
            "emails": [{"primary": True, "type": "work", "value": self.user_name(i)}],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": f"Given{i} Family{i}",
                "familyName": f"Family{i}",
                "givenName": f"Given{i}",
            },
            "roles": [],
        }

    def create_group(self, g: int) -> dict:
        return {
            "schemas": [GROUP, MS_GROUP],
            "externalId": str(uuid.UUID(int=10**9 + g)),
            "displayName": self.group_name(g),
            "meta": {"resourceType": "Group"},
        }

    def expected_display_name(self, i: int) -> str:
        return (
            f"Renamed{i} Family{i}" if i in set(self.renamed) else f"Given{i} Family{i}"
        )


def patch_body(*operations: dict) -> dict:
    # Microsoft's samples put "Operations" before "schemas".
    return {"Operations": list(operations), "schemas": [PATCH_OP]}


def filter_query(attribute: str, value: str) -> str:
    # Entra ID form-encodes the filter: userName+eq+%22...%22
    return "filter=" + quote_plus(f'{attribute} eq "{value}"')


# ---------------------------------------------------------------------------- one sync


@dataclass
class Target:
    name: str
    base: str  # the SCIM base URL, .../scim/v2
    token: str | None
    server: Server | ServerGroup | None = None
    checked: bool = True  # differences fail the run
    # Every server's base URL: the clients send each request to the next in turn.
    bases: list[str] = field(default_factory=list)


class Sync:
    """One run of the plan against one target: its phases, its answers, its state."""

    def __init__(self, target: Target, plan: Plan, *, clients: int, time_limit: float):
        self.target, self.plan = target, plan
        self.clients, self.time_limit = clients, time_limit
        self.recorder = Recorder()
        self.phases: dict[str, Phase] = {}
        self.user_ids: dict[int, str] = {}
        self.group_ids: dict[int, str] = {}
        self.unexpected: Counter = Counter()
        self.unexpected_example: dict[tuple[str, int], str] = {}
        self.differences: dict[str, list[str]] = defaultdict(list)
        self.postmaster = postmaster_pid() if target.server is not None else None

    def client(self) -> Client | RoundRobinClient:
        if len(self.target.bases) > 1:
            return RoundRobinClient(self.target.bases, self.target.token)
        return Client(self.target.base, self.target.token)

    def send(
        self,
        client: Client,
        kind: str,
        method: str,
        path: str,
        body=None,
        *,
        expect=(200,),
    ) -> Response:
        response = client.request(method, path, body)
        self.recorder.record(kind, response)
        if response.status not in expect:
            key = (kind, response.status)
            self.unexpected[key] += 1
            text = response.body[:200].decode("utf-8", "replace")
            self.unexpected_example.setdefault(key, " ".join(text.split()))
        return response

    def cpu_now(self) -> dict[str, float]:
        """CPU seconds used so far by the server's processes, PostgreSQL's and ours.

        On a machine where clients, server and database share the CPUs, CPU time per
        request is steadier than requests per second, and says who spends it."""
        times = os.times()
        used = {"client": times.user + times.system}
        server = self.target.server
        if server is not None and server.process is not None:
            used["server"] = server.cpu_seconds()
            if self.postmaster:
                used["PostgreSQL"] = tree_cpu_seconds(self.postmaster)
        return used

    def run_phase(self, name: str, items: list, work) -> Phase:
        phase = Phase(name)
        self.recorder.phase = phase
        before = self.cpu_now()
        run_parallel(
            phase,
            items,
            work,
            make_client=self.client,
            clients=self.clients,
            time_limit=self.time_limit,
        )
        after = self.cpu_now()
        phase.cpu_seconds = {k: after[k] - before[k] for k in after if k in before}
        self.recorder.phase = None
        self.phases[name] = phase
        return phase

    def warm_up(self) -> None:
        """Let every worker import and connect before anything is timed."""

        def probe(client: Client, n: int) -> None:
            client.request("GET", f"Users?{filter_query('userName', f'warm{n}@x')}")

        run_parallel(
            Phase("warm-up"),
            range(self.clients * 6),
            probe,
            make_client=self.client,
            clients=self.clients,
            time_limit=60,
        )

    # ----------------------------------------------------------------------- phases

    def users(self) -> None:
        def create(client: Client, i: int) -> None:
            name = self.plan.user_name(i)
            found = self.send(
                client,
                "GET Users?filter=userName",
                "GET",
                f"Users?{filter_query('userName', name)}",
            )
            if found.status == 200 and found.json().get("totalResults") != 0:
                self.unexpected[("GET Users?filter=userName (found)", 200)] += 1
            created = self.send(
                client,
                "POST Users",
                "POST",
                "Users",
                self.plan.create_user(i),
                expect=(201,),
            )
            if created.status == 201:
                self.user_ids[i] = created.json()["id"]

        self.run_phase("users", list(range(self.plan.users)), create)

    def groups(self) -> None:
        def create(client: Client, g: int) -> None:
            name = self.plan.group_name(g)
            self.send(
                client,
                "GET Groups?filter=displayName",
                "GET",
                f"Groups?excludedAttributes=members&{filter_query('displayName', name)}",
            )
            created = self.send(
                client,
                "POST Groups",
                "POST",
                "Groups",
                self.plan.create_group(g),
                expect=(201,),
            )
            if created.status != 201:
                return
            group_id = self.group_ids[g] = created.json()["id"]
            members = [
                self.user_ids[i] for i in self.plan.members[g] if i in self.user_ids
            ]
            batch = self.plan.member_batch
            for start in range(0, len(members), batch):
                value = [
                    {"$ref": None, "value": m} for m in members[start : start + batch]
                ]
                self.send(
                    client,
                    "PATCH Groups (add members)",
                    "PATCH",
                    f"Groups/{group_id}",
                    patch_body({"op": "Add", "path": "members", "value": value}),
                    expect=(200, 204),
                )
            self.send(
                client,
                "GET Groups/{id}?excludedAttributes",
                "GET",
                f"Groups/{group_id}?excludedAttributes=members",
            )

        self.run_phase("groups", list(range(self.plan.groups)), create)

    def incremental(self) -> None:
        items = (
            [("rename", i) for i in self.plan.renamed]
            + [("deactivate", i) for i in self.plan.deactivated]
            + [("remove", pair) for pair in self.plan.removed]
        )
        random.Random(self.plan.seed + 1).shuffle(items)

        def change(client: Client, item: tuple) -> None:
            action, subject = item
            if action == "remove":
                g, i = subject
                if g not in self.group_ids or i not in self.user_ids:
                    return
                group_id = self.group_ids[g]
                self.send(
                    client,
                    "GET Groups/{id}?excludedAttributes",
                    "GET",
                    f"Groups/{group_id}?excludedAttributes=members",
                )
                self.send(
                    client,
                    "PATCH Groups (remove one)",
                    "PATCH",
                    f"Groups/{group_id}",
                    patch_body(
                        {
                            "op": "Remove",
                            "path": "members",
                            "value": [{"value": self.user_ids[i]}],
                        }
                    ),
                    expect=(200, 204),
                )
                return
            if subject not in self.user_ids:
                return
            user_id = self.user_ids[subject]
            self.send(client, "GET Users/{id}", "GET", f"Users/{user_id}")
            if action == "rename":
                # The default job's shape: one Replace per attribute, capitalised.
                operations = [
                    {
                        "op": "Replace",
                        "path": "displayName",
                        "value": self.plan.expected_display_name(subject),
                    },
                    {
                        "op": "Replace",
                        "path": "name.givenName",
                        "value": f"Renamed{subject}",
                    },
                ]
                kind = "PATCH Users (rename)"
            else:
                operations = [{"op": "Replace", "path": "active", "value": "False"}]
                kind = "PATCH Users (deactivate)"
            self.send(
                client, kind, "PATCH", f"Users/{user_id}", patch_body(*operations)
            )

        self.run_phase("incremental", items, change)

    # ----------------------------------------------------------------------- verify

    def verify(self) -> None:
        """Read every user and group back and note each difference from the plan."""
        found_users: dict[str, dict] = {}
        found_groups: dict[int, tuple[list, set]] = {}
        pages = self.plan.users // 100 + 5

        def read(client: Client, item: tuple) -> None:
            kind, n = item
            if kind == "page":
                response = self.send(
                    client,
                    "GET Users (page)",
                    "GET",
                    f"Users?startIndex={n * 100 + 1}&count=100",
                )
                if response.status == 200:
                    for resource in response.json().get("Resources", []):
                        found_users[str(resource["id"])] = resource
                return
            group_id = self.group_ids[n]
            by_name = self.send(
                client,
                "GET Groups?filter=displayName",
                "GET",
                "Groups?excludedAttributes=members&"
                + filter_query("displayName", self.plan.group_name(n)),
            )
            ids = []
            if by_name.status == 200:
                ids = [str(r["id"]) for r in by_name.json().get("Resources", [])]
            whole = self.send(client, "GET Groups/{id}", "GET", f"Groups/{group_id}")
            members = set()
            if whole.status == 200:
                members = {str(m["value"]) for m in whole.json().get("members") or []}
            found_groups[n] = (ids, members)

        items = [("page", n) for n in range(pages)] + [
            ("group", g) for g in self.group_ids
        ]
        self.run_phase("verify", items, read)
        self.compare(found_users, found_groups)

    def compare(self, found_users: dict, found_groups: dict) -> None:
        plan, note = self.plan, self.differences
        renamed, deactivated = set(plan.renamed), set(plan.deactivated)
        removed: dict[int, set[int]] = defaultdict(set)
        for g, i in plan.removed:
            removed[g].add(i)
        for i in range(plan.users):
            if i not in self.user_ids:
                note["users not created"].append(plan.user_name(i))
                continue
            user = found_users.get(self.user_ids[i])
            if user is None:
                note["users missing from the list"].append(plan.user_name(i))
                continue
            if str(user.get("userName", "")).lower() != plan.user_name(i):
                note["userName wrong"].append(
                    f"{plan.user_name(i)}: {user.get('userName')}"
                )
            shown = user.get("displayName")
            if shown != plan.expected_display_name(i):
                label = "renames lost" if i in renamed else "displayName wrong"
                note[label].append(f"{plan.user_name(i)}: {shown!r}")
            if user.get("active") is not (i not in deactivated):
                label = "deactivations lost" if i in deactivated else "active wrong"
                note[label].append(
                    f"{plan.user_name(i)}: active={user.get('active')!r}"
                )
        for g in range(plan.groups):
            if g not in self.group_ids:
                note["groups not created"].append(plan.group_name(g))
                continue
            ids, members = found_groups.get(g, ([], set()))
            if ids != [self.group_ids[g]]:
                note["groups not found by displayName"].append(
                    f"{plan.group_name(g)}: {len(ids)} found"
                )
            expected = {
                self.user_ids[i]
                for i in plan.members[g]
                if i in self.user_ids and i not in removed[g]
            }
            lost_removals = {self.user_ids[i] for i in removed[g]} & members
            if lost_removals:
                note["removals lost"].extend(
                    f"{plan.group_name(g)}: {m}" for m in sorted(lost_removals)
                )
            if expected - members:
                note["memberships missing"].extend(
                    f"{plan.group_name(g)}: {m}" for m in sorted(expected - members)
                )
            if members - expected - lost_removals:
                note["memberships extra"].extend(
                    f"{plan.group_name(g)}: {m}" for m in sorted(members - expected)
                )

    # ----------------------------------------------------------------------- report

    @property
    def failed(self) -> bool:
        return bool(
            self.differences
            or self.unexpected
            or any(p.errors or p.timed_out for p in self.phases.values())
        )

    def summaries(self) -> dict[str, dict]:
        result = {name: phase.summary() for name, phase in self.phases.items()}
        timed = [p for name, p in self.phases.items() if name in SYNC_PHASES]
        if timed:
            result["total"] = summarize(
                [s for p in timed for s in p.samples], sum(p.seconds for p in timed)
            )
        return result

    def cpu_ms_per_request(self, name: str) -> dict[str, float]:
        """CPU milliseconds per request of a phase (or of the sync phases, "total")."""
        phases = (
            [p for n, p in self.phases.items() if n in SYNC_PHASES]
            if name == "total"
            else [self.phases[name]]
            if name in self.phases
            else []
        )
        requests = sum(len(p.samples) for p in phases)
        if not requests or not all(p.cpu_seconds for p in phases):
            return {}
        spent: dict[str, float] = defaultdict(float)
        for phase in phases:
            for who, seconds in phase.cpu_seconds.items():
                spent[who] += seconds
        order = ("server", "PostgreSQL", "client")
        result = {who: spent[who] * 1000 / requests for who in order if who in spent}
        result["all"] = sum(result.values())
        return result

    def report(self, label: str) -> None:
        print(f"\n{label}")
        summaries = self.summaries()
        for name in (*SYNC_PHASES, "total", "verify"):
            if name in summaries:
                print(format_row(name, summaries[name]))
                cpu = self.cpu_ms_per_request(name)
                if cpu:
                    print(
                        "      CPU ms per request: "
                        + ", ".join(f"{who} {ms:.2f}" for who, ms in cpu.items())
                    )
        kinds: dict[str, list] = defaultdict(list)
        for name in (*SYNC_PHASES, "verify"):
            prefix = "verify: " if name == "verify" else ""
            for sample in self.phases.get(name, Phase(name)).samples:
                kinds[prefix + sample.kind].append(sample)
        for kind, samples in sorted(
            kinds.items(), key=lambda k: (k[0][:7] == "verify:", k[0])
        ):
            extra = ""
            queries = [s.queries for s in samples if s.queries is not None]
            if queries:
                db = [s.db_ms for s in samples if s.db_ms is not None]
                extra = (
                    f"  {statistics.mean(queries):4.1f} queries, "
                    f"{statistics.mean(db):5.1f} ms in SQL"
                )
            print(
                format_row("  " + kind, summarize(samples, 0), extra).replace(
                    "     0.0 req/s", "           "
                )
            )
        server = self.target.server
        if server is not None:
            print(
                f"  worker peak RSS {server.peak_rss_mb:.1f} MB "
                f"({server.workers_seen} worker processes seen; gunicorn replaces one "
                f"after max_requests)"
            )
        for (kind, status), count in sorted(self.unexpected.items()):
            example = self.unexpected_example.get((kind, status), "")
            print(f"  unexpected answer: {kind}: {status} x{count} {example[:160]}")
        for phase in self.phases.values():
            if phase.timed_out:
                print(f"  phase {phase.name} ran out of time ({self.time_limit:.0f} s)")
            for error in phase.errors[:3]:
                print(f"  error in {phase.name}: {error}")
        if "verify" not in self.phases:
            return
        if not self.differences:
            print("  state: verified, every user and group as sent")
        for what, examples in self.differences.items():
            print(f"  state differs: {what}: {len(examples)} (e.g. {examples[0]})")


# ----------------------------------------------------------------------- the servers


class Servers:
    """Templates for each server kind, and a fresh copy plus gunicorn per run."""

    def __init__(self, databases: Databases):
        self.databases = databases
        self.templates: dict[str, str] = {}
        self.orgadmin_token = ""
        self.organization_id = 0

    def prepare(self, kinds: set[str]) -> None:
        if kinds & {"orgadmin", "floor"}:
            name = self.databases.create("orgadmin_template")
            # One process migrates and prepares: one Django start-up less.
            prepared = run_fixture(self.databases.url(name), "prepare", "--migrate")
            self.orgadmin_token = prepared["token"]
            self.organization_id = prepared["organization_id"]
            self.templates["orgadmin"] = self.templates["floor"] = name
        if "peer" in kinds:
            name = self.databases.create("peer_template")
            migrate("bench.peer.settings", self.databases.url(name))
            self.templates["peer"] = name

    def target(
        self,
        kind: str,
        settings: str | None = None,
        *,
        processes: int = 1,
        **extra: str,
    ) -> Target:
        """A fresh database and `processes` gunicorn servers on it (a ServerGroup when
        more than one, which the clients then use in turn)."""
        database = self.databases.create(kind, template=self.templates[kind])
        url = self.databases.url(database)
        ready_path = "/scim/v2/ServiceProviderConfig"
        if kind == "orgadmin":
            env = django_env(settings or "orgadmin.settings", url, **extra)
            wsgi_app, token = "orgadmin.wsgi:application", self.orgadmin_token
        elif kind == "peer":
            env = django_env("bench.peer.settings", url, BENCH_PEER_TOKEN=PEER_TOKEN)
            wsgi_app, token = "bench.peer.wsgi:application", PEER_TOKEN
        else:
            env = django_env(
                "bench.floor",
                url,
                BENCH_FLOOR_ORGANIZATION_ID=str(self.organization_id),
            )
            wsgi_app, token, ready_path = "bench.floor:application", None, "/"
        servers = [
            Server(kind, wsgi_app, env, ready_path=ready_path) for _ in range(processes)
        ]
        server = servers[0] if processes == 1 else ServerGroup(servers)
        bases = [s.base + "/scim/v2" for s in servers]
        return Target(kind, bases[0], token, server, kind != "peer", bases)


# ------------------------------------------------------------------------- comparing


def median_of(syncs: list[Sync], phase: str, key: str) -> float:
    values = [s.summaries()[phase][key] for s in syncs if phase in s.summaries()]
    return statistics.median(values) if values else 0.0


def verdict(ok: bool, detail: str) -> str:
    return ("met" if ok else "NOT MET") + (f" ({detail})" if detail else "")


def print_comparison(runs: dict[str, list[Sync]]) -> None:
    names = [n for n in ("orgadmin", "peer", "floor", "external") if n in runs]
    print("\nMedians over rounds (req/s, p50 / p99 ms)")
    print("  phase        " + "".join(f"{n:>26}" for n in names))
    for phase in (*SYNC_PHASES, "total"):
        cells = []
        for name in names:
            rps = median_of(runs[name], phase, "rps")
            if not rps:
                cells.append(f"{'-':>26}")
                continue
            p50 = median_of(runs[name], phase, "p50")
            p99 = median_of(runs[name], phase, "p99")
            cells.append(f"{rps:9.1f} ({p50:5.1f} / {p99:5.1f})")
        print(f"  {phase:<12} " + "".join(f"{c:>26}" for c in cells))
    print("\nCPU ms per request, medians over rounds (server / PostgreSQL / client)")
    for phase in (*SYNC_PHASES, "total"):
        cells = []
        for name in names:
            per_run = [s.cpu_ms_per_request(phase) for s in runs[name]]
            per_run = [c for c in per_run if c]
            if not per_run:
                cells.append(f"{'-':>26}")
                continue
            who = [
                statistics.median(c.get(k, 0.0) for c in per_run)
                for k in ("server", "PostgreSQL", "client")
            ]
            cells.append(f"{who[0]:5.2f} / {who[1]:5.2f} / {who[2]:5.2f}")
        print(f"  {phase:<12} " + "".join(f"{c:>26}" for c in cells))
    for name in names:
        rss = [s.target.server.peak_rss_mb for s in runs[name] if s.target.server]
        if rss:
            print(f"  {name} worker peak RSS: {max(rss):.1f} MB")
    if "orgadmin" not in runs:
        return
    ours = runs["orgadmin"]
    print("\nTargets (issue 11)")
    verified = not any(s.differences for s in ours)
    print(
        f"  orgadmin state verified: {'yes' if verified else 'no'}: "
        f"{verdict(verified, '')}"
    )
    if "peer" in runs:
        ratio = median_of(ours, "total", "rps") / max(
            1e-9, median_of(runs["peer"], "total", "rps")
        )
        per_round = [
            a.summaries()["total"]["rps"] / max(1e-9, b.summaries()["total"]["rps"])
            for a, b in zip(ours, runs["peer"], strict=False)
        ]
        print(
            f"  total req/s vs the peer: {ratio:.2f}x (rounds: "
            f"{', '.join(f'{r:.2f}x' for r in per_round)}); target >= 1.5x: "
            f"{verdict(ratio >= 1.5, '' if ratio >= 1.5 else f'{1.5 / ratio:.1f}x short')}"
        )
        peer_wrong = sum(len(v) for s in runs["peer"] for v in s.differences.values())
        print(
            f"  peer state: {peer_wrong} differences over {len(runs['peer'])} runs "
            "(listed above)"
        )
    if "floor" in runs:
        floor = median_of(runs["floor"], "users", "rps")
        users = median_of(ours, "users", "rps")
        share = users / max(1e-9, floor)
        print(
            f"  user phase vs the floor: {users:.1f} / {floor:.1f} req/s = {share:.0%}; "
            f"target >= 60% (aim 80%): "
            f"{verdict(share >= 0.6, '' if share >= 0.6 else f'{0.6 / share:.1f}x short')}"
        )
        if "peer" in runs:
            peer_users = median_of(runs["peer"], "users", "rps")
            print(
                f"  peer user phase vs the floor: {peer_users / max(1e-9, floor):.0%}"
            )
    p99 = median_of(ours, "total", "p99")
    print(
        f"  p99 of all sync requests at 4 clients: {p99:.1f} ms; target < 50 ms: "
        f"{verdict(p99 < 50, '' if p99 < 50 else f'{p99 / 50:.1f}x over')}"
    )


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--memberships", type=int, help="default: users x 1.25")
    parser.add_argument("--renames", type=int, help="default: 10%% of users")
    parser.add_argument("--deactivations", type=int, help="default: 5%% of users")
    parser.add_argument("--removals", type=int, help="default: 4%% of memberships")
    parser.add_argument(
        "--member-batch",
        type=int,
        default=10,
        help="members per group PATCH in the groups phase",
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="gunicorn processes per target, each on its own port, on one database; "
        "each client sends its requests to them in turn (round-robin)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs per server, interleaved A B A B"
    )
    parser.add_argument(
        "--time-limit", type=float, default=600, help="seconds each phase may take"
    )
    parser.add_argument(
        "--compare-peer",
        action="store_true",
        help="also run stock django-scim2 (bench/peer/)",
    )
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--only", choices=["orgadmin", "peer", "floor"])
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="count queries per request and record orgadmin's workers "
        "with py-spy in the first round; write the profile to DIR",
    )
    parser.add_argument("--base", help="a SCIM base URL to sync instead: .../scim/v2")
    parser.add_argument("--token", help="the bearer token for --base")
    parser.add_argument(
        "--domain", default="bench.example", help="the domain of the user names"
    )
    args = parser.parse_args(argv)
    if args.memberships is None:
        args.memberships = args.users * 5 // 4
    if args.renames is None:
        args.renames = args.users // 10
    if args.deactivations is None:
        args.deactivations = args.users // 20
    if args.removals is None:
        args.removals = max(1, args.memberships // 25)
    return args


def run_sync(target: Target, plan: Plan, args, label: str) -> Sync:
    sync = Sync(target, plan, clients=args.clients, time_limit=args.time_limit)
    sync.warm_up()
    sync.users()
    if target.name != "floor":
        sync.groups()
        sync.incremental()
        sync.verify()
    sync.report(label)
    return sync


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    plan = Plan(
        users=args.users,
        groups=args.groups,
        memberships=args.memberships,
        renames=args.renames,
        deactivations=args.deactivations,
        removals=args.removals,
        member_batch=args.member_batch,
        domain=args.domain,
    )
    print(
        f"Entra-like sync: {plan.users:,} users, {plan.groups} groups with "
        f"{sum(map(len, plan.members.values())):,} memberships ({plan.member_batch} per "
        f"PATCH), then {len(plan.renamed)} renames, {len(plan.deactivated)} "
        f"deactivations, {len(plan.removed)} single-member removals; "
        f"{args.clients} clients"
    )
    if args.base:
        target = Target("external", args.base.rstrip("/"), args.token)
        sync = run_sync(target, plan, args, f"{args.base}")
        sys.exit(1 if sync.failed else 0)

    if args.only:
        kinds = [args.only]
    else:
        kinds = ["orgadmin"] + (["peer"] if args.compare_peer else [])
        kinds += [] if args.no_floor else ["floor"]
    runs: dict[str, list[Sync]] = defaultdict(list)
    checked: list[Sync] = []
    with Databases(require_database_url()) as databases:
        servers = Servers(databases)
        started = time.monotonic()
        servers.prepare(set(kinds))
        print(
            f"templates migrated in {time.monotonic() - started:.0f} s; gunicorn "
            f"with gunicorn.conf.py, 2 workers, on PostgreSQL"
            + (
                f", {args.servers} gunicorn processes per target used round-robin"
                if args.servers > 1
                else ""
            )
            + "; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        if args.profile:
            from bench.profile_report import PySpy

            directory = Path(args.profile).resolve()
            directory.mkdir(parents=True, exist_ok=True)
            query_log = directory / "queries.txt"
            query_log.unlink(missing_ok=True)
            target = servers.target(
                "orgadmin", "bench.settings_profile", BENCH_QUERY_LOG=str(query_log)
            )
            with target.server:
                recording = PySpy(target.server, directory).start()
                sync = run_sync(target, plan, args, "orgadmin, profiled (not counted)")
                recording.stop_and_report(sync)
            checked.append(sync)
        for round_number in range(1, args.rounds + 1):
            for kind in kinds:
                target = servers.target(kind, processes=args.servers)
                with target.server:
                    sync = run_sync(target, plan, args, f"{kind}, round {round_number}")
                runs[kind].append(sync)
                checked.append(sync)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print_comparison(runs)
    failed = sorted({s.target.name for s in checked if s.target.checked and s.failed})
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (see above)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
