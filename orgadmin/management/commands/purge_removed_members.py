from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.management.commands._base import OrgAdminCommand
from orgadmin.models import RemovedMember


class Command(OrgAdminCommand):
    help = (
        "Delete for good the removed members kept longer than "
        f"{RemovedMember.KEEP.days} days, which owners can no longer restore (for "
        "cron, daily)."
    )

    runs_alone = True

    def actor(self) -> Actor:
        return Actor.system("Scheduled purge (manage.py purge_removed_members)")

    def handle(self, *args, **options):
        purged = actions.purge_removed_members(actor=self.actor())
        self.stdout.write(
            f"Purged {purged} removed member{'s' if purged != 1 else ''} kept longer "
            f"than {RemovedMember.KEEP.days} days."
        )
