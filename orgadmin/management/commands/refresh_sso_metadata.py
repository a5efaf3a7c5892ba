from django.core.management.base import CommandError

from orgadmin import actions
from orgadmin.errors import OrgAdminError
from orgadmin.management.commands._base import OrgAdminCommand
from orgadmin.models import SSOConfiguration


class Command(OrgAdminCommand):
    help = (
        "Read every organization's IdP metadata URL again (for cron, daily), so that "
        "the IdP's next certificate comes in by itself; then email owners and admins "
        "about IdP certificates expiring within 30 or 7 days."
    )

    runs_alone = True

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="*", help="Only these organizations.")

    def handle(self, *args, slug, **options):
        configurations = SSOConfiguration.objects.exclude(
            idp_metadata_url=""
        ).select_related("organization")
        if slug:
            configurations = configurations.filter(organization__slug__in=slug)
        failed = 0
        for configuration in configurations.order_by("organization__slug"):
            name = configuration.organization.slug
            try:
                actions.refresh_sso_metadata(configuration, actor=self.actor())
            except OrgAdminError as error:
                failed += 1
                self.stderr.write(f"{name}: not refreshed: {error}")
            else:
                self.stdout.write(f"{name}: metadata read.")
        for (
            configuration,
            fingerprint,
            days,
        ) in actions.warn_of_expiring_sso_certificates():
            self.stdout.write(
                f"{configuration.organization.slug}: owners and admins warned that "
                f"certificate {fingerprint} expires within {days} days."
            )
        if failed:
            raise CommandError(f"{failed} metadata URL(s) could not be read.")
