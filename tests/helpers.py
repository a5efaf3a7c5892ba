"""What the tests share: builders that go through the real actions, as the product does;
a SCIM client with the requests Entra ID and Okta send; signing in through the browser."""

import json
import re
import threading

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.models import ClaimedDomain, Member, Organization, Team, User

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
    # As when the owner sets that password through the reset link: the address is proven.
    actions.record_proven_email(owner, email=owner_email, proof="password_reset")
    if domain:
        verify_domain_now(organization, domain)
    return organization


def verify_domain_now(organization: Organization, domain: str) -> ClaimedDomain:
    claimed = actions.claim_domain(organization, domain=domain, actor=SYSTEM)
    return actions.mark_domain_verified(claimed, actor=SYSTEM)


def make_member(
    organization: Organization, email: str, *, role: str = Member.Role.MEMBER
) -> Member:
    """A linked member (password PASSWORD): invited, then the invitation accepted as
    its link does, creating the account or with the existing one."""
    member = actions.add_member(organization, email=email, role=role, actor=SYSTEM)
    if member.user is None:
        accept_invitation(member)
    if not member.user.check_password(PASSWORD):
        member.user.set_password(PASSWORD)
        member.user.save()
    return member


def accept_invitation(member: Member) -> User:
    """Accept as the invitation link does: as the address's account, else a new one."""
    account = User.objects.filter(email__iexact=member.email).first()
    return actions.accept_invitation(
        member,
        nonce=member.invitation_nonce,
        user=account,
        password=None if account else PASSWORD,
    )


def make_operator(
    email: str = "operator@orgadmin.test", *, totp_secret: str | None = None
) -> User:
    """A superuser with TOTP set up (password PASSWORD), as the admin requires."""
    operator = User.objects.create_superuser(email=email, password=PASSWORD)
    TOTP.activate(operator, totp_secret or generate_totp_secret())
    return operator


def issue_token(organization: Organization, name: str = "Entra") -> str:
    _, secret = actions.issue_scim_token(organization, name=name, actor=SYSTEM)
    return secret


# --------------------------------------------------------------------- SCIM over HTTP

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimClient:
    """The test client speaking SCIM with a bearer token, as Entra ID does."""

    def __init__(self, secret: str | None):
        self.client = Client()
        # Through the SCIM API's own middleware, as orgadmin/handlers.py serves it.
        with override_settings(MIDDLEWARE=settings.API_MIDDLEWARE):
            self.client.handler.load_middleware()
        self.secret = secret

    def request(self, method, path, body=None, *, headers=None, content_type=SCIM_JSON):
        headers = dict(headers or {})
        if self.secret is not None:
            headers.setdefault("Authorization", f"Bearer {self.secret}")
        data = (
            body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        )
        url = path if path.startswith("/") else f"/scim/v2/{path}"
        return self.client.generic(
            method,
            url,
            data=data if data is not None else "",
            content_type=content_type,
            headers=headers,
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def assert_error(response, status, scim_type=None):
    """Assert an RFC 7644 section 3.12 error body with this status; return the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    assert body.get("scimType") == scim_type
    return body


def user_body(user_name="pat@acme.example", **extra):
    return {"schemas": [USER], "userName": user_name, **extra}


def create(scim, user_name="pat@acme.example", **extra):
    """POST a SCIM user and return the created resource."""
    response = scim.post("Users", user_body(user_name, **extra))
    assert response.status_code == 201, response.content
    return response.json()


def patch(scim, user_id, *operations, **kwargs):
    """PATCH a SCIM user with these operations."""
    return scim.patch(
        f"Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": list(operations)},
        **kwargs,
    )


def member_of(user):
    """The member a SCIM user resource stands for."""
    return Member.objects.get(scim_id=user["id"])


def patch_group(scim, group_id, *operations, query=""):
    return scim.patch(
        f"Groups/{group_id}{query}",
        {"schemas": [PATCH_OP], "Operations": list(operations)},
    )


def member_ids(group):
    """The SCIM ids of the members of the team a SCIM group resource stands for."""
    team = Team.objects.get(scim_id=group["id"])
    return {str(m.scim_id) for m in team.members.all()}


# ------------------------------------------------------------------------ the browser


def sign_in(page, base_url: str, email: str) -> None:
    """Sign in through allauth's form in the browser, with PASSWORD."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The start page, or the person's only organization, which it opens directly.
    page.wait_for_url(re.compile(rf"^{re.escape(base_url)}/(organizations/[^/]+/)?$"))


def in_parallel(*calls):
    """Run the calls at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # reported by the assertion below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
