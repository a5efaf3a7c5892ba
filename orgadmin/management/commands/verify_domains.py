from collections import Counter

from django.core.management.base import CommandError

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.management.commands._base import OrgAdminCommand


class Command(OrgAdminCommand):
    help = (
        "Check claimed domains' DNS TXT records (for cron, e.g. hourly): verify pending "
        "claims, expire them after 14 days, re-check verified domains, warn owners of "
        "failing ones and unverify those failing for 7 days."
    )

    runs_alone = True

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit",
            type=int,
            default=1000,
            help="Check at most this many claims, least recently checked first "
            "(default 1000; the next run goes on), so that one run stays bounded.",
        )

    def actor(self) -> Actor:
        return Actor.system("Scheduled check (manage.py verify_domains)")

    def handle(self, *args, limit, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        visited = actions.recheck_domains(actor=self.actor(), limit=limit)
        changed = Counter()
        for claimed, previous in visited:
            if claimed.status != previous:
                changed[claimed.status] += 1
                self.stdout.write(
                    f"{claimed.domain} ({claimed.organization.slug}): "
                    f"{previous} -> {claimed.status}. {claimed.last_check_message}"
                )
        summary = ", ".join(f"{count} {status}" for status, count in changed.items())
        self.stdout.write(
            f"Checked {len(visited)} domain{'s' if len(visited) != 1 else ''}; "
            f"{summary or 'no status changed'}."
        )
