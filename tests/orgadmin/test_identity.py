"""An address counts only once it is proven: the linking rule behind SCIM provisioning,
invitations and password resets, and the invitation links themselves."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from orgadmin import actions
from orgadmin.errors import LastOwner
from orgadmin.models import AuditEvent, Member, User
from tests import helpers
from tests.helpers import PASSWORD, SYSTEM, ScimClient

MEMBERS = "/organizations/acme/members/"
INVITE = f"{MEMBERS}invite/"
ATTACKER_PASSWORD = "Eve-pass-123-long!"


def signed_in(email: str, password: str = PASSWORD) -> Client:
    client = Client()
    assert client.login(email=email, password=password)
    return client


def self_asserted_account(email: str) -> User:
    """An account whose User.email is `email` without any proof (an operator typo, an
    old allauth email page): what finding 1 of the security review abused."""
    return User.objects.create_user(email=email, password=ATTACKER_PASSWORD)


def invite(client, email, *, capture, role="member", **extra) -> str:
    """Invite through the Members page and return the path of the emailed link."""
    with capture(execute=True):
        response = client.post(INVITE, {"email": email, "role": role, **extra})
    assert response.status_code == 302, response.content
    return link_in(mail.outbox[-1])


def link_in(message) -> str:
    assert "/invitations/" in message.body, message.body
    return re.search(r"https://orgadmin\.test(/invitations/\S+/)", message.body)[1]


def linked_events(member):
    return list(
        AuditEvent.objects.filter(
            action="member.account_linked", target_id=str(member.pk)
        ).values_list("changes__proof", flat=True)
    )


# ----------------------------------------------------------- the review's reproductions


def test_allauths_email_management_is_not_mounted(organization):
    eve = helpers.make_member(
        helpers.make_organization("beta", domain="beta.example"), "eve@beta.example"
    )
    client = signed_in("eve@beta.example")
    assert client.get("/accounts/email/").status_code == 404
    for action in ("action_add", "action_primary"):
        response = client.post(
            "/accounts/email/", {"email": "newhire@acme.example", action: ""}
        )
        assert response.status_code == 404
    eve.user.refresh_from_db()
    assert eve.user.email == "eve@beta.example"
    assert not EmailAddress.objects.filter(email="newhire@acme.example").exists()
    assert "/accounts/email/" not in client.get("/").content.decode()


def test_scim_does_not_link_an_account_whose_address_is_not_proven(organization):
    self_asserted_account("newhire@acme.example")
    scim = ScimClient(helpers.issue_token(organization))
    created = helpers.create(scim, "newhire@acme.example")
    assert helpers.member_of(created).user is None
    attacker = signed_in("newhire@acme.example", ATTACKER_PASSWORD)
    assert attacker.get(MEMBERS).status_code == 404
    assert attacker.get("/organizations/acme/").status_code == 404


def test_an_invitation_does_not_link_an_account_whose_address_is_not_proven(
    owner_client, organization, django_capture_on_commit_callbacks
):
    self_asserted_account("cfo2@acme.example")
    invite(
        owner_client,
        "cfo2@acme.example",
        role="admin",
        capture=django_capture_on_commit_callbacks,
    )
    member = Member.objects.get(organization=organization, email="cfo2@acme.example")
    assert member.user is None and member.is_invitation_pending
    attacker = signed_in("cfo2@acme.example", ATTACKER_PASSWORD)
    scim_tab = "/organizations/acme/access-security/scim/"
    assert attacker.get(scim_tab).status_code == 404
    assert "Acme" not in attacker.get("/").content.decode()


# -------------------------------------------------------------- proven accounts link now


def test_a_proven_account_on_a_verified_domain_is_linked_at_once_by_scim(organization):
    account = helpers.make_member(
        helpers.make_organization("globex", domain="globex.example"),
        "kim@acme.example",
    ).user  # accepting that invitation proved kim@acme.example
    scim = ScimClient(helpers.issue_token(organization))
    member = helpers.member_of(helpers.create(scim, "KIM@acme.example"))
    assert member.user == account
    assert linked_events(member) == ["verified_domain"]
    assert signed_in("kim@acme.example").get(MEMBERS).status_code == 200


def test_a_proven_account_on_a_verified_domain_is_linked_at_once_by_invitation(
    owner_client, organization, django_capture_on_commit_callbacks
):
    account = helpers.make_member(
        helpers.make_organization("globex", domain="globex.example"),
        "kim@acme.example",
    ).user
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            INVITE, {"email": "kim@acme.example", "role": "member"}, follow=True
        )
    assert "kim@acme.example was added" in response.content.decode()
    member = Member.objects.get(organization=organization, email="kim@acme.example")
    assert member.user == account and not member.is_invitation_pending
    assert linked_events(member) == ["verified_domain"]
    assert mail.outbox[-1].subject == "You were added to Acme"


def test_a_proven_account_is_not_linked_on_a_domain_the_organization_did_not_verify(
    db,
):
    open_org = helpers.make_organization(
        "open", domain=None, restrict_to_claimed_domains=False
    )
    helpers.make_member(
        helpers.make_organization("acme", domain="acme.example"), "kim@acme.example"
    )
    member = actions.add_member(open_org, email="kim@acme.example", actor=SYSTEM)
    assert member.user is None and member.is_invitation_pending


# ------------------------------------------------------------- proving the mailbox later


def test_a_new_person_sets_a_password_from_the_link_and_lands_signed_in(
    owner_client, organization, django_capture_on_commit_callbacks
):
    link = invite(
        owner_client, "grace@acme.example", capture=django_capture_on_commit_callbacks
    )
    client = Client()
    page = client.get(link)
    assert page.status_code == 200
    assert "Choose a password to create your account" in page.content.decode()
    mismatch = client.post(link, {"password1": "a-long-pass-1", "password2": "other"})
    assert mismatch.context["form"]["password2"].errors
    assert not User.objects.filter(email="grace@acme.example").exists()
    response = client.post(
        link, {"password1": "a-long-passphrase", "password2": "a-long-passphrase"}
    )
    assert response.status_code == 302 and response.url == "/organizations/acme/"
    assert "Welcome to Acme" in client.get(response.url).content.decode()
    member = Member.objects.get(organization=organization, email="grace@acme.example")
    assert member.user.check_password("a-long-passphrase")
    assert EmailAddress.objects.filter(
        user=member.user, email="grace@acme.example", verified=True, primary=True
    ).exists()
    assert linked_events(member) == ["invitation"]


def test_an_unproven_account_is_linked_once_it_follows_the_invitation_link(
    owner_client, organization, django_capture_on_commit_callbacks
):
    account = self_asserted_account("kim@acme.example")
    link = invite(
        owner_client, "kim@acme.example", capture=django_capture_on_commit_callbacks
    )
    client = Client()
    page = client.get(link).content.decode()
    assert 'data-testid="sign-in-to-accept"' in page
    sign_in = client.post(
        f"/accounts/login/?next={link}",
        {"login": "kim@acme.example", "password": ATTACKER_PASSWORD},
    )
    assert sign_in.status_code == 302 and sign_in.url == link
    assert "Join Acme" in client.get(link).content.decode()
    response = client.post(link)
    assert response.status_code == 302 and response.url == "/organizations/acme/"
    member = Member.objects.get(organization=organization, email="kim@acme.example")
    assert member.user == account
    assert linked_events(member) == ["invitation"]
    assert EmailAddress.objects.filter(user=account, verified=True).exists()
    # One use: the link is dead now, even for the person who followed it.
    used = client.get(link)
    assert used.status_code == 410
    assert "already used" in used.content.decode()


def test_an_unproven_account_is_linked_after_a_password_reset(client, organization):
    globex = helpers.make_organization("globex", domain="globex.example")
    account = self_asserted_account("kim@acme.example")
    scim = ScimClient(helpers.issue_token(organization))
    member = helpers.member_of(helpers.create(scim, "kim@acme.example"))
    pending_elsewhere = actions.add_member(
        globex, email="kim@acme.example", actor=SYSTEM
    )
    assert member.user is None
    client.post("/accounts/password/reset/", {"email": "kim@acme.example"})
    (message,) = mail.outbox
    assert message.to == ["kim@acme.example"]
    link = re.search(
        r"http://testserver(/accounts/password/reset/key/\S+)", message.body
    )
    form_url = client.get(link[1], follow=True).redirect_chain[-1][0]
    new_password = "a-new-long-passphrase"
    client.post(form_url, {"password1": new_password, "password2": new_password})
    member.refresh_from_db()
    assert member.user == account
    assert linked_events(member) == ["password_reset"]
    assert EmailAddress.objects.get(user=account).verified
    # Another organization's invitation on a domain it has not verified waits for its
    # own link.
    pending_elsewhere.refresh_from_db()
    assert pending_elsewhere.user is None and pending_elsewhere.is_invitation_pending
    assert signed_in("kim@acme.example", new_password).get(MEMBERS).status_code == 200


def test_a_pending_invitation_gives_no_access_until_accepted(organization):
    account = self_asserted_account("kim@acme.example")
    actions.add_member(organization, email="kim@acme.example", actor=SYSTEM)
    client = signed_in("kim@acme.example", ATTACKER_PASSWORD)
    assert client.get("/organizations/acme/").status_code == 404
    home = client.get("/").content.decode()
    assert "You do not belong to an organization yet" in home
    assert not account.memberships.exists()


def test_signed_in_as_another_account_the_link_says_sign_out_first(
    owner_client, organization, django_capture_on_commit_callbacks
):
    link = invite(
        owner_client, "grace@acme.example", capture=django_capture_on_commit_callbacks
    )
    for method in (owner_client.get, owner_client.post):
        page = method(link).content.decode()
        assert 'data-testid="wrong-account"' in page
        assert "you are signed in as owner@acme.example" in page
    member = Member.objects.get(email="grace@acme.example")
    assert member.user is None and member.is_invitation_pending
    assert not User.objects.filter(email="grace@acme.example").exists()


# ------------------------------------------------------------------ the link's lifetime


def test_an_expired_link_shows_whom_to_ask(
    owner_client, organization, settings, django_capture_on_commit_callbacks
):
    settings.ORGADMIN_INVITATION_DAYS = 0
    link = invite(
        owner_client, "grace@acme.example", capture=django_capture_on_commit_callbacks
    )
    response = Client().get(link)
    assert response.status_code == 410
    page = response.content.decode()
    assert "This invitation expired on" in page
    assert "ask an owner or admin of Acme to send a new one" in page
    assert "Invitation expired" in owner_client.get(MEMBERS).content.decode()


def test_a_tampered_link_shows_a_friendly_page(
    owner_client, organization, django_capture_on_commit_callbacks
):
    link = invite(
        owner_client, "grace@acme.example", capture=django_capture_on_commit_callbacks
    )
    for bad in (link[:-3] + "xx/", "/invitations/not-a-token/"):
        response = Client().get(bad)
        assert response.status_code == 410
        assert 'data-testid="invitation-not-valid"' in response.content.decode()
        assert "ask the person who invited you" in response.content.decode()


def test_resend_sends_a_new_link_and_the_old_one_stops_working(
    owner_client, organization, settings, django_capture_on_commit_callbacks
):
    settings.ORGADMIN_INVITATION_DAYS = 0
    old = invite(
        owner_client, "grace@acme.example", capture=django_capture_on_commit_callbacks
    )
    member = Member.objects.get(email="grace@acme.example")
    settings.ORGADMIN_INVITATION_DAYS = 7
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"{MEMBERS}{member.pk}/invitation/resend/", follow=True
        )
    assert "the previous link no longer works" in response.content.decode()
    new = link_in(mail.outbox[-1])
    assert new != old
    assert Client().get(old).status_code == 410
    assert Client().get(new).status_code == 200
    assert "Invited, expires in 7 days" in owner_client.get(MEMBERS).content.decode()
    assert AuditEvent.objects.filter(
        action="member.invitation_resent", actor_label="owner@acme.example"
    ).exists()


def test_revoke_removes_the_pending_member_and_its_link(
    owner_client, organization, django_capture_on_commit_callbacks
):
    link = invite(
        owner_client, "grace@acme.example", capture=django_capture_on_commit_callbacks
    )
    member = Member.objects.get(email="grace@acme.example")
    response = owner_client.post(f"{MEMBERS}{member.pk}/invitation/revoke/")
    assert response.status_code == 302 and response.url == MEMBERS
    assert not Member.objects.filter(pk=member.pk).exists()
    assert Client().get(link).status_code == 410
    assert AuditEvent.objects.filter(action="member.invitation_revoked").count() == 1


def test_resend_and_revoke_refuse_a_member_who_has_accepted(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    for action in ("resend", "revoke"):
        response = owner_client.post(
            f"{MEMBERS}{grace.pk}/invitation/{action}/", follow=True
        )
        assert "has no pending invitation" in response.content.decode()
    assert Member.objects.filter(pk=grace.pk, user__isnull=False).exists()


def test_another_organizations_member_ids_give_404_on_resend_and_revoke(
    owner_client, organization
):
    globex = helpers.make_organization("globex", domain="globex.example")
    theirs = actions.add_member(globex, email="kim@globex.example", actor=SYSTEM)
    for action in ("resend", "revoke"):
        response = owner_client.post(f"{MEMBERS}{theirs.pk}/invitation/{action}/")
        assert response.status_code == 404
    assert Member.objects.filter(pk=theirs.pk).exists()


def test_a_plain_member_cannot_resend_or_revoke(organization):
    pending = actions.add_member(organization, email="kim@acme.example", actor=SYSTEM)
    helpers.make_member(organization, "pat@acme.example")
    client = signed_in("pat@acme.example")
    for action in ("resend", "revoke"):
        response = client.post(f"{MEMBERS}{pending.pk}/invitation/{action}/")
        assert response.status_code == 404
    assert Member.objects.filter(pk=pending.pk).exists()


# ------------------------------------------------------------------ the members pages


def test_the_members_page_lists_pending_people_with_resend_and_revoke(
    owner_client, organization
):
    pending = actions.add_member(organization, email="kim@acme.example", actor=SYSTEM)
    page = owner_client.get(MEMBERS).content.decode()
    assert "Invited, expires in 7 days" in page
    assert f"{MEMBERS}{pending.pk}/invitation/resend/" in page
    assert f"{MEMBERS}{pending.pk}/invitation/revoke/" in page
    invited = owner_client.get(MEMBERS, {"status": "invited"})
    assert [m.email for m in invited.context["page"].object_list] == [
        "kim@acme.example"
    ]
    detail = owner_client.get(f"{MEMBERS}{pending.pk}/").content.decode()
    assert 'data-testid="invitation-note"' in detail


def test_inviting_outside_the_verified_domains_asks_for_confirmation(
    owner_client, organization
):
    data = {"email": "pat@gmail.com", "role": "member"}
    response = owner_client.post(INVITE, data)
    assert response.status_code == 200
    errors = response.context["form"]["confirm_outside_domains"].errors
    assert "gmail.com is not one of Acme's verified domains" in errors[0]
    assert 'name="confirm_outside_domains"' in response.content.decode()
    assert not Member.objects.filter(email="pat@gmail.com").exists()
    confirmed = owner_client.post(INVITE, {**data, "confirm_outside_domains": "on"})
    assert confirmed.status_code == 302
    assert Member.objects.get(email="pat@gmail.com").is_invitation_pending
    # On a verified domain, no confirmation is asked.
    first = owner_client.get(INVITE).content.decode()
    assert 'name="confirm_outside_domains"' not in first
    assert (
        owner_client.post(INVITE, {**data, "email": "kim@acme.example"}).status_code
        == 302
    )


def test_linking_is_in_the_audit_log_with_its_proof(owner_client, organization):
    helpers.make_member(organization, "grace@acme.example")
    page = owner_client.get(
        "/organizations/acme/access-security/audit-log/",
        {"action": "member.account_linked"},
    ).content.decode()
    assert "member.account_linked" in page
    assert "invitation" in page


def test_a_pending_owner_does_not_count_as_another_owner(organization, owner):
    actions.add_member(
        organization, email="boss@acme.example", role="owner", actor=SYSTEM
    )
    with pytest.raises(LastOwner):
        actions.change_member_role(owner, role="admin", actor=SYSTEM)


def test_an_operator_changing_an_accounts_email_forgets_its_proven_addresses(
    organization,
):
    user = User.objects.create_user(email="kim@elsewhere.example", password=PASSWORD)
    actions.record_proven_email(
        user, email="kim@elsewhere.example", proof="password_reset"
    )
    actions.update_account(user, email="kim@acme.example", actor=SYSTEM)
    assert not EmailAddress.objects.filter(user=user).exists()
    member = actions.provision_member(
        organization, user_name="kim@acme.example", actor=SYSTEM
    )
    assert member.user is None
