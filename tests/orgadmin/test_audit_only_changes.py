"""An audit event says what changed: a save that changes nothing records nothing, and
one that changes something records exactly one event."""

import pytest

from orgadmin import actions
from orgadmin.errors import VersionMismatch
from orgadmin.models import AuditEvent, Member
from tests.helpers import SYSTEM, make_member

GENERAL = "/organizations/acme/"


def test_saving_the_general_settings_unchanged_adds_no_audit_event(
    owner_client, organization
):
    settings = {"name": organization.name, "restrict_to_claimed_domains": "on"}
    before = AuditEvent.objects.count()
    response = owner_client.post(GENERAL, settings)
    assert response.status_code == 302
    assert AuditEvent.objects.count() == before

    owner_client.post(GENERAL, {**settings, "name": "Acme Inc"})
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.first()
    assert event.action == "organization.updated"
    assert event.changes == {"name": {"from": "Acme", "to": "Acme Inc"}}


def test_saving_a_profile_unchanged_adds_no_audit_event(owner_client, organization):
    pat = make_member(organization, "pat@acme.example")
    profile = f"{GENERAL}members/{pat.pk}/profile/"
    owner_client.post(profile, {"display_name": "Pat", "title": "", "department": ""})
    before = AuditEvent.objects.count()
    owner_client.post(profile, {"display_name": "Pat", "title": "", "department": ""})
    assert AuditEvent.objects.count() == before
    pat.refresh_from_db()
    version = pat.version

    owner_client.post(profile, {"display_name": "Pat", "title": "CFO"})
    assert AuditEvent.objects.count() == before + 1
    pat.refresh_from_db()
    assert pat.title == "CFO" and pat.version == version + 1


@pytest.mark.parametrize(
    "unchanged_update",
    [
        lambda org, member, team: actions.update_organization(
            org, name=org.name, scim_enabled=org.scim_enabled, actor=SYSTEM
        ),
        lambda org, member, team: actions.update_member(
            member, display_name=member.display_name, is_active=True, actor=SYSTEM
        ),
        lambda org, member, team: actions.change_member_role(
            member, role=member.role, actor=SYSTEM
        ),
        lambda org, member, team: actions.update_team(
            team,
            display_name=team.display_name,
            add_member_ids=[member.pk],
            actor=SYSTEM,
        ),
        lambda org, member, team: actions.remove_team_members(
            team, member_ids=[], actor=SYSTEM
        ),
        lambda org, member, team: actions.update_sso_configuration(
            org, enabled=False, actor=SYSTEM
        ),
    ],
    ids=["organization", "member", "role", "team", "team-members", "sso"],
)
def test_an_update_that_changes_nothing_records_nothing(organization, unchanged_update):
    member = make_member(organization, "pat@acme.example")
    team = actions.create_team(
        organization, display_name="Ops", member_ids=[member.pk], actor=SYSTEM
    )
    actions.update_sso_configuration(organization, enabled=False, actor=SYSTEM)
    member.refresh_from_db()
    before = AuditEvent.objects.count()
    member_version, team_version = member.version, team.version
    unchanged_update(organization, member, team)
    assert AuditEvent.objects.count() == before
    assert Member.objects.get(pk=member.pk).version == member_version
    team.refresh_from_db()
    assert team.version == team_version


def test_a_stale_expected_version_writes_nothing(organization):
    member = make_member(organization, "pat@acme.example")
    read_version = member.version
    actions.update_member(member, title="Engineer", actor=SYSTEM)
    before = AuditEvent.objects.count()
    with pytest.raises(VersionMismatch) as refused:
        actions.update_member(
            member, title="CFO", expected_version=read_version, actor=SYSTEM
        )
    assert refused.value.current_version == read_version + 1
    member.refresh_from_db()
    assert member.title == "Engineer" and AuditEvent.objects.count() == before

    team = actions.create_team(organization, display_name="Ops", actor=SYSTEM)
    with pytest.raises(VersionMismatch):
        actions.delete_team(team, expected_version=team.version + 1, actor=SYSTEM)
    with pytest.raises(VersionMismatch):
        actions.remove_member(member, expected_version={read_version}, actor=SYSTEM)
    actions.delete_team(team, expected_version=team.version, actor=SYSTEM)
    actions.remove_member(member, expected_version=member.version, actor=SYSTEM)
    assert not Member.objects.filter(pk=member.pk).exists()


def test_update_actions_take_only_their_known_fields(organization):
    member = make_member(organization, "pat@acme.example")
    with pytest.raises(TypeError):
        actions.update_member(member, role="owner", actor=SYSTEM)
    with pytest.raises(TypeError):
        actions.update_organization(organization, slug="other", actor=SYSTEM)
