"""Small builders that go through the real actions, as the product does."""

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.models import ClaimedDomain, Member, Organization, User

SYSTEM = Actor.system("tests")
PASSWORD = "correct-horse-battery-staple"


def make_organization(
    slug: str = "acme",
    *,
    domain: str | None = "acme.example",
    owner_email: str | None = None,
    restrict_to_claimed_domains: bool = True,
) -> Organization:
    """An organization with an owner (password PASSWORD) and, by default, a verified domain."""
    owner_email = owner_email or f"owner@{domain or slug + '.example'}"
    organization = actions.create_organization(
        name=slug.title(),
        slug=slug,
        owner_email=owner_email,
        restrict_to_claimed_domains=restrict_to_claimed_domains,
        actor=SYSTEM,
    )
    owner = User.objects.get(email=owner_email)
    owner.set_password(PASSWORD)
    owner.save()
    if domain:
        verify_domain_now(organization, domain)
    return organization


def verify_domain_now(organization: Organization, domain: str) -> ClaimedDomain:
    claimed = actions.claim_domain(organization, domain=domain, actor=SYSTEM)
    return actions.mark_domain_verified(claimed, actor=SYSTEM)


def make_member(
    organization: Organization, email: str, *, role: str = Member.Role.MEMBER
) -> Member:
    member = actions.add_member(organization, email=email, role=role, actor=SYSTEM)
    member.user.set_password(PASSWORD)
    member.user.save()
    return member


def make_operator(email: str = "operator@orgadmin.test") -> User:
    return User.objects.create_superuser(email=email, password=PASSWORD)


def issue_token(organization: Organization, name: str = "Entra") -> str:
    _, secret = actions.issue_scim_token(organization, name=name, actor=SYSTEM)
    return secret
