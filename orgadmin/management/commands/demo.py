from django.conf import settings
from django.db import transaction

from orgadmin import actions
from orgadmin.management.commands._base import OrgAdminCommand
from orgadmin.models import ClaimedDomain, Member, Organization, ScimToken, Team, User
from orgadmin.public_urls import scim_tenant_url

# One password for every demo account; printed by the command and given in the README.
DEMO_PASSWORD = "orgadmin-demo"
DEMO_TOKEN_NAME = "Demo token"
# The people who can sign in, one per role; the other demo members stay invited.
DEMO_SIGN_INS = [
    ("owner", "owner@acme.example"),
    ("admin", "ada@acme.example"),
    ("member", "grace@acme.example"),
]
DEMO_MEMBERS = [
    ("ada@acme.example", "Ada Lovelace", Member.Role.ADMIN),
    ("grace@acme.example", "Grace Hopper", Member.Role.MEMBER),
    ("alan@acme.example", "Alan Turing", Member.Role.MEMBER),
    ("edsger@acme.example", "Edsger Dijkstra", Member.Role.MEMBER),
]
DEMO_TEAMS = {
    "Engineering": ["grace@acme.example", "alan@acme.example", "edsger@acme.example"],
    "Research": ["ada@acme.example", "alan@acme.example"],
}


class Command(OrgAdminCommand):
    help = "Create sample data (organization acme) once; running it again reuses it."

    def handle(self, *args, **options):
        actor = self.actor()
        with transaction.atomic():
            organization = Organization.objects.filter(slug="acme").first()
            if organization is None:
                organization = actions.create_organization(
                    name="Acme",
                    slug="acme",
                    owner_email="owner@acme.example",
                    actor=actor,
                )
            claimed = ClaimedDomain.objects.filter(
                organization=organization, domain="acme.example"
            ).first() or actions.claim_domain(
                organization, domain="acme.example", actor=actor
            )
            if not claimed.is_verified:
                actions.mark_domain_verified(claimed, actor=actor)
            owner = User.objects.get(email="owner@acme.example")
            if not owner.full_name:
                actions.update_account(owner, full_name="Olivia Owner", actor=actor)
            by_email = {}
            for email, full_name, role in DEMO_MEMBERS:
                member = Member.objects.filter(
                    organization=organization, email=email
                ).first()
                if member is None:
                    member = actions.add_member(
                        organization,
                        email=email,
                        full_name=full_name,
                        role=role,
                        actor=actor,
                        notify=False,  # sample people at acme.example have no mailbox
                    )
                by_email[email] = member
            for _, email in DEMO_SIGN_INS:
                _give_demo_password(organization, email, actor=actor)
            for name, emails in DEMO_TEAMS.items():
                if not Team.objects.filter(
                    organization=organization, display_name=name
                ).exists():
                    actions.create_team(
                        organization,
                        display_name=name,
                        member_ids=[by_email[e].pk for e in emails],
                        actor=actor,
                    )
            # Only a digest is stored, so the previous demo token cannot be shown again:
            # replace it, keeping one usable demo token.
            for old in ScimToken.objects.usable().filter(
                organization=organization, name=DEMO_TOKEN_NAME
            ):
                actions.revoke_scim_token(old, actor=actor)
            _, secret = actions.issue_scim_token(
                organization, name=DEMO_TOKEN_NAME, actor=actor
            )
        base = settings.ORGADMIN_BASE_URL
        self.stdout.write(
            "Demo organization: Acme (acme), domain acme.example (verified by "
            "operator override)"
        )
        self.stdout.write(
            f"Sign in at {base}/accounts/login/ with the password {DEMO_PASSWORD}:"
        )
        for role, email in DEMO_SIGN_INS:
            self.stdout.write(f"  {role:<7} {email:<22} password: {DEMO_PASSWORD}")
        self.stdout.write(f"SCIM Tenant URL: {scim_tenant_url()}")
        self.stdout.write(f"SCIM token:      {secret}")


def _give_demo_password(organization, email: str, *, actor) -> None:
    """Accept the member's invitation with the demo password, or, when their account
    exists already (the command ran before), set that password again."""
    member = Member.objects.get(organization=organization, email=email)
    if member.is_invitation_pending:
        actions.accept_invitation(
            member, nonce=member.invitation_nonce, password=DEMO_PASSWORD
        )
    elif member.user is not None and not member.user.check_password(DEMO_PASSWORD):
        actions.set_account_password(member.user, password=DEMO_PASSWORD, actor=actor)
