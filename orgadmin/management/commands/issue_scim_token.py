from orgadmin import actions
from orgadmin.management.commands._base import OrgAdminCommand


class Command(OrgAdminCommand):
    help = "Issue a SCIM bearer token; the token alone is printed on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="Issued by an operator")

    def handle(self, *args, slug, name, **options):
        organization = self.organization(slug)
        token, secret = actions.issue_scim_token(
            organization, name=name, actor=self.actor()
        )
        self.stdout.write(
            f"Issued {token.label} for {organization.slug}; it is not stored."
        )
        self.stdout.write(secret)
