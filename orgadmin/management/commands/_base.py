from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from orgadmin.audit import Actor
from orgadmin.errors import OrgAdminError
from orgadmin.locks import advisory_lock
from orgadmin.models import Organization


class OrgAdminCommand(BaseCommand):
    """A command that acts as an operator and turns refused writes into CommandError.

    A periodic command sets `runs_alone`: cron may start it on every host at once,
    and only the first to take its PostgreSQL advisory lock works; the others say so
    and exit 0.
    """

    runs_alone = False

    def actor(self) -> Actor:
        return Actor.for_command(self.__module__.rpartition(".")[2])

    def organization(self, slug: str) -> Organization:
        try:
            return Organization.objects.get(slug=slug)
        except Organization.DoesNotExist:
            raise CommandError(f'No organization with the slug "{slug}".') from None

    def execute(self, *args, **options):
        if not self.runs_alone:
            return self._execute(*args, **options)
        name = self.__module__.rpartition(".")[2]
        with advisory_lock(f"command:{name}") as acquired:
            if not acquired:
                if options.get("stdout"):
                    self.stdout = OutputWrapper(options["stdout"])
                self.stdout.write(
                    f"Another run of {name} holds its lock (on another host, or "
                    "still running here); nothing to do."
                )
                return None
            return self._execute(*args, **options)

    def _execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except OrgAdminError as error:
            raise CommandError(str(error)) from error
