from orgadmin import actions
from orgadmin.management.commands._base import OrgAdminCommand


class Command(OrgAdminCommand):
    help = (
        "Claim a domain for an organization and print the TXT record that verifies it."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("domain")
        parser.add_argument(
            "--verified",
            action="store_true",
            help="Mark it verified without DNS (operator override).",
        )
        parser.add_argument(
            "--allow-nested",
            action="store_true",
            help="Claim it even when it is under, or above, a domain another "
            "organization verified (operator override).",
        )

    def handle(self, *args, slug, domain, verified, allow_nested, **options):
        organization = self.organization(slug)
        claimed = actions.claim_domain(
            organization, domain=domain, actor=self.actor(), allow_nested=allow_nested
        )
        if verified:
            actions.mark_domain_verified(claimed, actor=self.actor())
            self.stdout.write(f"{claimed.domain} is verified for {organization.slug}.")
            return
        self.stdout.write(
            f"{claimed.domain} is claimed for {organization.slug}, pending."
        )
        self.stdout.write("Create this DNS TXT record, then run verify_domains:")
        self.stdout.write(f"  host:  {claimed.record_host}")
        self.stdout.write(f"  value: {claimed.record_value}")
