"""The benchmarks' data, made in a subprocess on one database; prints one JSON line.

    prepare [--migrate]          an organization, its verified domain, a SCIM token
    load --members N --team T    the same, plus N members and a team of T of them,
                                 bulk-loaded (bulk_create), then VACUUM ANALYZE
    explain --token SECRET       EXPLAIN ANALYZE of the SQL that the userName,
                                 externalId and displayName filters run

DATABASE_URL names the database; the organization and the token go through
orgadmin.actions, the bulk rows straight to the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgadmin.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from orgadmin import actions  # noqa: E402
from orgadmin.audit import Actor  # noqa: E402
from orgadmin.models import (  # noqa: E402
    Member,
    MemberEmail,
    Organization,
    Team,
    TeamMembership,
)

SYSTEM = Actor.system("bench")
DOMAIN = "bench.example"
BATCH = 5000


def prepare(slug: str = "bench") -> tuple[Organization, str]:
    organization = actions.create_organization(
        name=slug.title(), slug=slug, owner_email=f"owner@{DOMAIN}", actor=SYSTEM
    )
    claimed = actions.claim_domain(organization, domain=DOMAIN, actor=SYSTEM)
    actions.mark_domain_verified(claimed, actor=SYSTEM)
    _, secret = actions.issue_scim_token(organization, name="bench", actor=SYSTEM)
    # The sync deactivates 5% of a directory it created minutes before, which the
    # deprovisioning brake (at least 10 an hour by default) rightly pauses; the
    # benchmark measures speed, so the brake still counts but never trips.
    actions.update_deprovisioning_brake(
        organization, share_percent=100, minimum=1_000_000, actor=SYSTEM
    )
    return organization, secret


def user_name(n: int) -> str:
    return f"user{n:06d}@{DOMAIN}"


def external_id(n: int) -> str:
    return f"ext-{n:06d}"


def load(members: int, team_size: int, extra_teams: int = 0) -> dict:
    """An organization of `members` members, a team of the first `team_size`, and
    `extra_teams` empty teams (so that the planner has a table worth an index)."""
    started = time.monotonic()
    organization, secret = prepare()
    ids = [uuid.uuid4() for _ in range(members)]
    for start in range(0, members, BATCH):
        Member.objects.bulk_create(
            Member(
                organization=organization,
                source=Member.Source.SCIM,
                scim_id=ids[n],
                user_name=user_name(n),
                external_id=external_id(n),
                display_name=f"User {n}",
                given_name="User",
                family_name=str(n),
                email=user_name(n),
            )
            for n in range(start, min(members, start + BATCH))
        )
    pks = dict(
        Member.objects.filter(organization=organization).values_list("scim_id", "pk")
    )
    ordered = [pks[i] for i in ids]
    for start in range(0, members, BATCH):
        MemberEmail.objects.bulk_create(
            MemberEmail(
                member_id=ordered[n], value=user_name(n), type="work", primary=True
            )
            for n in range(start, min(members, start + BATCH))
        )
    team = Team.objects.create(
        organization=organization, display_name="Everyone", is_scim_managed=True
    )
    for start in range(0, team_size, BATCH):
        TeamMembership.objects.bulk_create(
            TeamMembership(team=team, member_id=ordered[n])
            for n in range(start, min(team_size, start + BATCH))
        )
    Team.objects.bulk_create(
        Team(organization=organization, display_name=f"Team {n}", is_scim_managed=True)
        for n in range(extra_teams)
    )
    with connection.cursor() as cursor:
        # A bulk load leaves no statistics and no visibility map; a live database has
        # both from autovacuum.
        cursor.execute("VACUUM ANALYZE")
    return {
        "token": secret,
        "members": members,
        "team_size": team_size,
        "team_id": str(team.scim_id),
        "first_user_name": user_name(0),
        "last_user_name": user_name(members - 1),
        "middle_external_id": external_id(members // 2),
        # Members outside the team: the ones a PATCH adds (and then removes).
        "outside": [str(i) for i in ids[team_size:]],
        "load_seconds": round(time.monotonic() - started, 1),
    }


def explain(secret: str) -> dict:
    """Send the three case-insensitive lookups and the last list page; EXPLAIN the
    member and team SQL they ran."""
    from django.conf import settings
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    settings.SECURE_SSL_REDIRECT = False
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    last_page = max(1, Member.objects.count() - 99)
    lookups = {
        "userName": f'/scim/v2/Users?filter=userName eq "{user_name(77).upper()}"',
        "externalId": f'/scim/v2/Users?filter=externalId eq "{external_id(77)}"',
        "displayName": (
            '/scim/v2/Groups?excludedAttributes=members&filter=displayName eq "EVERYONE"'
        ),
        "list page at the end": f"/scim/v2/Users?startIndex={last_page}&count=100",
    }
    plans = {}
    for label, url in lookups.items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        table = "orgadmin_team" if label == "displayName" else "orgadmin_member"
        statements = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]
        ]
        plans[label] = []
        for sql in statements:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            plans[label].append({"sql": sql, "plan": plan})
        plans[label + "_queries"] = len(captured.captured_queries)
    return plans


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    preparing = commands.add_parser("prepare")
    preparing.add_argument("--migrate", action="store_true", help="migrate first")
    loading = commands.add_parser("load")
    loading.add_argument("--members", type=int, required=True)
    loading.add_argument("--team", type=int, required=True)
    loading.add_argument("--extra-teams", type=int, default=0)
    explaining = commands.add_parser("explain")
    explaining.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        if args.migrate:
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
        organization, secret = prepare()
        result = {"token": secret, "organization_id": organization.pk}
    elif args.command == "load":
        result = load(args.members, args.team, args.extra_teams)
    else:
        result = explain(args.token)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
