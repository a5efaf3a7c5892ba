from datetime import timedelta

import pytest
from django.utils import timezone

from orgadmin import actions
from orgadmin.errors import (
    AlreadyExists,
    DomainAlreadyClaimed,
    DomainNotVerified,
    InvalidValue,
    LastOwner,
    NotPermitted,
)
from orgadmin.models import AuditEvent, ClaimedDomain, Member, ScimToken, User
from tests.helpers import SYSTEM, make_member, make_organization


@pytest.fixture
def count_events(db):
    def count():
        return AuditEvent.objects.count()

    return count


def one_event(count_events, before, action):
    assert count_events() == before + 1
    event = AuditEvent.objects.first()
    assert event.action == action
    return event


def test_create_organization_makes_an_owner_and_one_event(db, count_events):
    organization = actions.create_organization(
        name="Initech", owner_email="Boss@Initech.example", actor=SYSTEM
    )
    assert organization.slug == "initech"
    owner = organization.members.get()
    assert owner.role == "owner" and owner.user.email == "boss@initech.example"
    assert count_events() == 1
    event = AuditEvent.objects.get()
    assert event.action == "organization.created" and event.actor_label == "tests"


def test_create_organization_refuses_a_taken_slug(organization):
    with pytest.raises(AlreadyExists):
        actions.create_organization(name="Acme two", slug="acme", actor=SYSTEM)


def test_every_action_writes_exactly_one_audit_event(organization, owner, count_events):
    steps = [
        (
            "organization.updated",
            lambda: actions.update_organization(
                organization, name="Acme Inc", actor=SYSTEM
            ),
        ),
        (
            "member.added",
            lambda: actions.add_member(
                organization, email="pat@acme.example", actor=owner.user
            ),
        ),
        (
            "member.provisioned",
            lambda: actions.provision_member(
                organization, user_name="sam@acme.example", actor=SYSTEM
            ),
        ),
    ]
    for action, step in steps:
        before = count_events()
        step()
        one_event(count_events, before, action)

    pat = Member.objects.get(user_name="pat@acme.example")
    sam = Member.objects.get(user_name="sam@acme.example")
    more = [
        (
            "member.updated",
            lambda: actions.update_member(sam, title="Engineer", actor=SYSTEM),
        ),
        ("member.deactivated", lambda: actions.deactivate_member(sam, actor=SYSTEM)),
        ("member.reactivated", lambda: actions.reactivate_member(sam, actor=SYSTEM)),
        (
            "member.role_changed",
            lambda: actions.change_member_role(pat, role="admin", actor=SYSTEM),
        ),
    ]
    for action, step in more:
        before = count_events()
        step()
        one_event(count_events, before, action)

    before = count_events()
    team = actions.create_team(
        organization, display_name="Ops", member_ids=[pat.pk], actor=SYSTEM
    )
    one_event(count_events, before, "team.created")
    for action, step in [
        (
            "team.updated",
            lambda: actions.add_team_members(team, member_ids=[sam.pk], actor=SYSTEM),
        ),
        (
            "team.updated",
            lambda: actions.remove_team_members(
                team, member_ids=[pat.pk], actor=SYSTEM
            ),
        ),
        (
            "team.updated",
            lambda: actions.update_team(team, display_name="Ops!", actor=SYSTEM),
        ),
        ("team.deleted", lambda: actions.delete_team(team, actor=SYSTEM)),
        ("member.removed", lambda: actions.remove_member(sam, actor=SYSTEM)),
    ]:
        before = count_events()
        step()
        one_event(count_events, before, action)

    before = count_events()
    claimed = actions.claim_domain(
        organization, domain="Sub.Acme.Example.", actor=SYSTEM
    )
    one_event(count_events, before, "domain.claimed")
    assert claimed.domain == "sub.acme.example"
    for action, step in [
        (
            "domain.verified",
            lambda: actions.mark_domain_verified(claimed, actor=SYSTEM),
        ),
        ("domain.released", lambda: actions.release_domain(claimed, actor=SYSTEM)),
        (
            "sso.updated",
            lambda: actions.update_sso_configuration(
                organization,
                enabled=True,
                idp_entity_id="https://idp.example",
                actor=SYSTEM,
            ),
        ),
    ]:
        before = count_events()
        step()
        one_event(count_events, before, action)

    before = count_events()
    token, secret = actions.issue_scim_token(
        organization, name="Entra", actor=owner.user
    )
    event = one_event(count_events, before, "scim_token.issued")
    assert secret not in str(event.changes)
    before = count_events()
    actions.revoke_scim_token(token, actor=owner.user)
    one_event(count_events, before, "scim_token.revoked")


def test_a_refused_action_writes_no_event_and_changes_nothing(
    organization, owner, count_events
):
    before = count_events()
    with pytest.raises(LastOwner):
        actions.change_member_role(owner, role="member", actor=SYSTEM)
    with pytest.raises(LastOwner):
        actions.deactivate_member(owner, actor=SYSTEM)
    with pytest.raises(InvalidValue):
        actions.create_team(organization, display_name="  ", actor=SYSTEM)
    assert count_events() == before
    owner.refresh_from_db()
    assert owner.role == "owner" and owner.is_active


def test_scim_token_is_stored_only_as_a_digest(organization):
    token, secret = actions.issue_scim_token(organization, name="Entra", actor=SYSTEM)
    assert secret.startswith("oa_scim_") and len(secret) > 40
    stored = ScimToken.objects.get(pk=token.pk)
    assert stored.digest == ScimToken.digest_of(secret)
    assert secret not in [
        str(v) for v in ScimToken.objects.values_list(flat=False).get()
    ]
    assert stored.prefix == secret[:12]
    assert stored.label == f'SCIM token "Entra" ({secret[:12]})'


def test_scim_token_expiry_must_be_in_the_future(organization):
    with pytest.raises(InvalidValue):
        actions.issue_scim_token(
            organization,
            name="old",
            expires_at=timezone.now() - timedelta(days=1),
            actor=SYSTEM,
        )


def test_provisioning_refuses_an_email_outside_verified_domains(organization):
    with pytest.raises(DomainNotVerified, match="other.example"):
        actions.provision_member(
            organization, user_name="pat@other.example", actor=SYSTEM
        )
    assert not Member.objects.filter(user_name="pat@other.example").exists()


def test_provisioning_links_an_existing_account_only_on_a_verified_domain(db):
    # Both accounts have a proven address (tests/orgadmin/test_identity.py covers the
    # unproven ones): only the domain differs.
    open_org = make_organization("open", domain=None, restrict_to_claimed_domains=False)
    pat = User.objects.create_user(email="pat@elsewhere.example")
    actions.record_proven_email(pat, email=pat.email, proof="password_reset")
    member = actions.provision_member(
        open_org, user_name="pat@elsewhere.example", actor=SYSTEM
    )
    assert member.user is None
    acme = make_organization("acme", domain="acme.example")
    existing = User.objects.create_user(email="kim@acme.example")
    actions.record_proven_email(existing, email=existing.email, proof="password_reset")
    member = actions.provision_member(acme, user_name="kim@acme.example", actor=SYSTEM)
    assert member.user == existing and member.source == "scim"


def test_duplicate_user_name_is_already_exists_not_an_integrity_error(organization):
    actions.provision_member(organization, user_name="pat@acme.example", actor=SYSTEM)
    with pytest.raises(AlreadyExists):
        actions.provision_member(
            organization, user_name="PAT@acme.example", actor=SYSTEM
        )


def test_team_members_of_another_organization_are_refused(organization):
    other = make_organization("globex", domain="globex.example")
    stranger = make_member(other, "x@globex.example")
    team = actions.create_team(organization, display_name="Ops", actor=SYSTEM)
    with pytest.raises(InvalidValue):
        actions.add_team_members(team, member_ids=[stranger.pk], actor=SYSTEM)
    assert team.memberships.count() == 0


def test_replacing_team_members_applies_the_difference(organization, owner):
    a = make_member(organization, "a@acme.example")
    b = make_member(organization, "b@acme.example")
    team = actions.create_team(
        organization, display_name="Ops", member_ids=[owner.pk, a.pk], actor=SYSTEM
    )
    actions.update_team(team, replace_member_ids=[a.pk, b.pk], actor=SYSTEM)
    assert set(team.members.values_list("pk", flat=True)) == {a.pk, b.pk}
    event = AuditEvent.objects.first()
    assert event.changes["members_added"] == 1 and event.changes["members_removed"] == 1
    team.refresh_from_db()
    assert team.version == 2


def test_a_domain_verified_elsewhere_cannot_be_claimed(organization):
    other = make_organization("globex", domain=None)
    with pytest.raises(DomainAlreadyClaimed):
        actions.claim_domain(other, domain="ACME.example", actor=SYSTEM)


def test_operator_verification_marks_other_pending_claims_taken(db):
    first = make_organization("first", domain=None)
    second = make_organization("second", domain=None)
    a = actions.claim_domain(first, domain="contested.example", actor=SYSTEM)
    b = actions.claim_domain(second, domain="contested.example", actor=SYSTEM)
    actions.mark_domain_verified(a, actor=SYSTEM)
    b.refresh_from_db()
    assert b.status == ClaimedDomain.Status.TAKEN
    with pytest.raises(DomainAlreadyClaimed):
        actions.mark_domain_verified(b, actor=SYSTEM)


def test_member_emails_are_rows_and_the_work_email_follows_them(organization):
    member = actions.provision_member(
        organization,
        user_name="pat",
        emails=[
            {"value": "pat.home@acme.example", "type": "home"},
            {"value": "Pat@Acme.example", "type": "work", "primary": True},
        ],
        actor=SYSTEM,
    )
    assert member.email == "pat@acme.example"
    assert [e.value for e in member.email_addresses.all()] == [
        "pat.home@acme.example",
        "Pat@Acme.example",
    ]
    actions.update_member(
        member,
        emails=[{"value": "p@acme.example", "type": "work"}],
        actor=SYSTEM,
    )
    member.refresh_from_db()
    assert member.email == "p@acme.example" and member.version == 2
    event = AuditEvent.objects.first()
    assert event.changes["emails"]["to"] == [
        {"value": "p@acme.example", "type": "work", "primary": False}
    ]
    with pytest.raises(DomainNotVerified):
        actions.update_member(
            member,
            emails=[{"value": "p@gmail.com", "primary": True}],
            actor=SYSTEM,
        )
    assert member.email_addresses.get().value == "p@acme.example"


def test_provisioning_a_public_email_address_says_it_cannot_be_claimed(organization):
    with pytest.raises(DomainNotVerified, match="public email provider") as refused:
        actions.provision_member(organization, user_name="pat@gmail.com", actor=SYSTEM)
    assert "claim and verify" not in refused.value.message


def test_a_person_cannot_deactivate_their_own_membership(organization):
    ada = make_member(organization, "ada@acme.example", role="admin")
    with pytest.raises(NotPermitted, match="cannot deactivate yourself"):
        actions.deactivate_member(ada, actor=ada.user)
    ada.refresh_from_db()
    assert ada.is_active
    # The directory and operators still can.
    actions.deactivate_member(ada, actor=SYSTEM)
    ada.refresh_from_db()
    assert not ada.is_active
