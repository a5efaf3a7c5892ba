from orgadmin import actions
from orgadmin.management.commands._base import OrgAdminCommand


class Command(OrgAdminCommand):
    help = "Create an organization, optionally with its first owner."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email")
        parser.add_argument(
            "--allow-any-domain",
            action="store_true",
            help="Let SCIM and SSO bring in people on any email domain.",
        )

    def handle(self, *args, slug, name, owner_email, allow_any_domain, **options):
        organization = actions.create_organization(
            name=name,
            slug=slug,
            owner_email=owner_email,
            restrict_to_claimed_domains=not allow_any_domain,
            actor=self.actor(),
        )
        self.stdout.write(
            f"Created organization {organization.slug} ({organization.name})."
        )
        if owner_email:
            self.stdout.write(f"Owner: {owner_email.strip().lower()}")
