"""Benchmark the SCIM endpoint on an organization of 10,000 members and a group of 5,000.

Prints ms per request and queries per request for list pages, filtered lookups, user
create, group reads and group PATCH adding/removing 1,000 members. Uses a throwaway
SQLite database unless DATABASE_URL is set (then a fresh test database is created next
to it and dropped afterwards).

    DJANGO_DEBUG=1 .venv/bin/python bench/scim_bench.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgadmin.settings")
if not os.environ.get("DATABASE_URL"):
    _tmp = tempfile.mkdtemp(prefix="scim-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}/bench.sqlite3"

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

MEMBERS = 10_000
GROUP_SIZE = 5_000
PATCH_SIZE = 1_000


def main() -> None:
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.SECURE_SSL_REDIRECT = False
    settings.SCIM_THROTTLE_RATE = ""
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run() -> None:
    from django.test import Client

    from orgadmin.models import Member, Team, TeamMembership
    from tests import helpers

    organization = helpers.make_organization("bench", domain="bench.example")
    secret = helpers.issue_token(organization)
    started = time.monotonic()
    Member.objects.bulk_create(
        (
            Member(
                organization=organization,
                user_name=f"user{n:05d}@bench.example",
                email=f"user{n:05d}@bench.example",
                display_name=f"User {n}",
                scim_id=uuid.uuid4(),
                source="scim",
            )
            for n in range(MEMBERS)
        ),
        batch_size=2000,
    )
    members = list(
        Member.objects.filter(source="scim").order_by("pk").values_list("pk", "scim_id")
    )
    from orgadmin.models import MemberEmail

    MemberEmail.objects.bulk_create(
        (
            MemberEmail(
                member_id=pk,
                value=f"user{n:05d}@bench.example",
                type="work",
                primary=True,
            )
            for n, (pk, _) in enumerate(members)
        ),
        batch_size=2000,
    )
    team = Team.objects.create(
        organization=organization, display_name="Half", is_scim_managed=True
    )
    TeamMembership.objects.bulk_create(
        (TeamMembership(team=team, member_id=pk) for pk, _ in members[:GROUP_SIZE]),
        batch_size=2000,
    )

    if connection.vendor == "postgresql" and not os.environ.get("BENCH_NO_ANALYZE"):
        # Autovacuum would gather statistics on a live database; a bulk load just
        # done has none, and the planner then picks nested loops over 10,000 rows.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"SCIM benchmark on {connection.vendor}: {MEMBERS:,} members, a group of "
        f"{GROUP_SIZE:,} (data built in {time.monotonic() - started:.1f} s)"
    )
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    json_type = "application/scim+json"
    patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

    def measure(label, request, repeat=20):
        request()  # warm up
        durations, queries = [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                begin = time.perf_counter()
                response = request()
                durations.append((time.perf_counter() - begin) * 1000)
            assert response.status_code < 300, (
                label,
                response.status_code,
                response.content[:300],
            )
            queries = len(captured)
        median = statistics.median(durations)
        if os.environ.get("BENCH_EXPLAIN"):
            worst = max(captured.captured_queries, key=lambda q: float(q["time"]))
            print("   slowest:", worst["time"], worst["sql"][:400])
        print(
            f"{label:<62} {median:8.1f} ms  {1000 / median:7.1f} req/s  {queries:3d} queries"
        )

    measure(
        "GET /Users?count=100 (first page)",
        lambda: client.get("/scim/v2/Users?count=100"),
    )
    measure(
        "GET /Users?startIndex=9901&count=100 (last page)",
        lambda: client.get("/scim/v2/Users?startIndex=9901&count=100"),
    )
    measure(
        'GET /Users?filter=userName eq "..." (Entra match)',
        lambda: client.get(
            "/scim/v2/Users?filter=userName+eq+%22user07777%40bench.example%22"
        ),
    )
    measure(
        "GET /Users?filter=emails[type eq work].value eq ...",
        lambda: client.get(
            '/scim/v2/Users?filter=emails[type eq "work"].value eq "user04242@bench.example"'
        ),
    )
    measure(
        f"GET /Groups/{{id}}?excludedAttributes=members ({GROUP_SIZE:,})",
        lambda: client.get(
            f"/scim/v2/Groups/{team.scim_id}?excludedAttributes=members"
        ),
    )
    measure(
        f"GET /Groups/{{id}} with all {GROUP_SIZE:,} members",
        lambda: client.get(f"/scim/v2/Groups/{team.scim_id}"),
        repeat=5,
    )
    counter = iter(range(1_000_000))
    measure(
        "POST /Users (create)",
        lambda: client.post(
            "/scim/v2/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"new{next(counter)}@bench.example",
                "name": {"givenName": "New", "familyName": "User"},
                "emails": [
                    {"value": "x@bench.example", "type": "work", "primary": True}
                ],
            },
            content_type=json_type,
        ),
    )
    measure(
        "PATCH /Users/{id} (Entra deactivate + rename)",
        lambda: client.patch(
            f"/scim/v2/Users/{members[-1][1]}",
            {
                "schemas": [patch_op],
                "Operations": [
                    {"op": "Replace", "path": "active", "value": "False"},
                    {
                        "op": "Replace",
                        "path": "displayName",
                        "value": f"Renamed {next(counter)}",
                    },
                ],
            },
            content_type=json_type,
        ),
    )
    outside = [
        str(scim_id) for _, scim_id in members[GROUP_SIZE : GROUP_SIZE + PATCH_SIZE]
    ]
    state = {"add": True}

    def add_or_remove():
        op = "Add" if state["add"] else "Remove"
        state["add"] = not state["add"]
        return client.patch(
            f"/scim/v2/Groups/{team.scim_id}",
            {
                "schemas": [patch_op],
                "Operations": [
                    {
                        "op": op,
                        "path": "members",
                        "value": [{"value": i} for i in outside],
                    }
                ],
            },
            content_type=json_type,
        )

    measure(
        f"PATCH /Groups/{{id}} add or remove {PATCH_SIZE:,} members (alternating)",
        add_or_remove,
        repeat=10,
    )
    one = str(members[-2][1])
    measure(
        'PATCH /Groups/{id} remove members[value eq "id"] (one)',
        lambda: client.patch(
            f"/scim/v2/Groups/{team.scim_id}",
            {
                "schemas": [patch_op],
                "Operations": [{"op": "remove", "path": f'members[value eq "{one}"]'}],
            },
            content_type=json_type,
        ),
    )


if __name__ == "__main__":
    main()
