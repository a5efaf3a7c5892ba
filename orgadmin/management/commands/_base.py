from django.core.management.base import BaseCommand, CommandError

from orgadmin.audit import Actor
from orgadmin.errors import OrgAdminError
from orgadmin.models import Organization


class OrgAdminCommand(BaseCommand):
    """A command that acts as an operator and turns refused writes into CommandError."""

    def actor(self) -> Actor:
        return Actor.for_command(self.__module__.rpartition(".")[2])

    def organization(self, slug: str) -> Organization:
        try:
            return Organization.objects.get(slug=slug)
        except Organization.DoesNotExist:
            raise CommandError(f'No organization with the slug "{slug}".') from None

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except OrgAdminError as error:
            raise CommandError(str(error)) from error
