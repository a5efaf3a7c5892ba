"""The audit log reads as sentences: who did what to whom, and only what changed."""

import csv
import io
import json
import pathlib
import re

import pytest

from orgadmin import actions, audit_text
from orgadmin.models import AuditEvent
from tests import helpers
from tests.helpers import SYSTEM, ScimClient, create

AUDIT = "/organizations/acme/access-security/audit-log/"


@pytest.fixture
def scim_client(organization):
    return ScimClient(
        helpers.issue_token(organization, name="Entra prod")
    ), organization


def latest(action):
    return AuditEvent.objects.filter(action=action).latest("pk")


def test_a_role_change_reads_as_one_sentence(owner_client, organization, owner):
    alan = helpers.make_member(organization, "alan@acme.example")
    actions.update_member(alan, display_name="Alan Turing", actor=SYSTEM)
    actions.change_member_role(alan, role="admin", actor=owner.user)

    text = audit_text.describe(latest("member.role_changed"))

    assert text.sentence == (
        "owner@acme.example changed Alan Turing's role from Member to Admin"
    )
    page = owner_client.get(AUDIT).content.decode()
    assert (
        "owner@acme.example changed Alan Turing&#x27;s role from Member to Admin"
        in (page)
    )


def test_a_scim_deactivation_names_the_token_without_its_prefix(scim_client):
    scim, organization = scim_client
    user = create(scim, "dorothy@acme.example", displayName="Dorothy Vaughan")
    helpers.patch(scim, user["id"], {"op": "replace", "path": "active", "value": False})

    text = audit_text.describe(latest("member.deactivated"))

    assert text.sentence == 'SCIM token "Entra prod" deactivated Dorothy Vaughan'
    assert [(c.label, c.before, c.after) for c in text.changes] == [
        ("Active", "on", "off")
    ]


def test_a_provisioned_member_lists_only_the_attributes_that_were_set(scim_client):
    scim, organization = scim_client
    create(
        scim,
        "grace@acme.example",
        displayName="Grace Hopper",
        emails=[{"value": "grace@acme.example", "type": "work", "primary": True}],
    )
    event = latest("member.provisioned")
    # The event keeps every attribute; the log shows the few that have a value.
    assert len(event.changes) > 20

    text = audit_text.describe(event)

    assert text.sentence == 'SCIM token "Entra prod" provisioned Grace Hopper'
    listed = {c.label: c.after for c in text.changes}
    assert listed == {
        "User name": "grace@acme.example",
        "Display name": "Grace Hopper",
        "Email": "grace@acme.example",
        "Emails": "grace@acme.example (work, primary)",
    }
    for change in text.changes:
        assert "{" not in change.after and "[" not in change.after
        assert "None" not in change.after and "True" not in change.after


def test_the_audit_log_page_shows_sentences_and_no_python_values(
    owner_client, organization, owner
):
    actions.update_organization(
        organization, restrict_to_claimed_domains=False, actor=owner.user
    )
    actions.create_team(organization, display_name="Research", actor=owner.user)

    page = owner_client.get(AUDIT).content.decode()

    assert "owner@acme.example changed the organization&#x27;s settings" in page
    assert "<dt>Only people on verified domains</dt>" in page
    assert "<del>on</del> → <ins>off</ins>" in page
    assert "owner@acme.example created the team Research" in page
    for repr_text in ("{&#x27;from&#x27;", "True", "None", "[]"):
        assert repr_text not in page


def test_the_action_filter_uses_friendly_names_and_still_filters_by_code(
    owner_client, organization, owner
):
    actions.create_team(organization, display_name="Research", actor=owner.user)

    page = owner_client.get(AUDIT).content.decode()
    assert '<option value="team.created">Team created</option>' in page
    assert '<option value="domain.verified">Domain verified</option>' in page

    filtered = owner_client.get(AUDIT, {"action": "team.created"})
    assert [row.event.action for row in filtered.context["rows"]] == ["team.created"]


def test_the_csv_keeps_the_codes_and_the_json(owner_client, organization, owner):
    alan = helpers.make_member(organization, "alan@acme.example")
    actions.change_member_role(alan, role="admin", actor=owner.user)

    response = owner_client.get(f"{AUDIT[:-1]}.csv", {"action": "member.role_changed"})

    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    )
    assert [row["action"] for row in rows] == ["member.role_changed"]
    assert json.loads(rows[0]["changes"]) == {"role": {"from": "member", "to": "admin"}}


def test_an_unknown_action_still_reads_without_a_template(organization):
    event = AuditEvent.objects.create(
        organization=organization,
        actor_type="system",
        actor_label="System",
        action="something.new",
        changes={"note": {"from": None, "to": ["a", "b"]}},
    )
    text = audit_text.describe(event)
    assert text.sentence == "System: something.new"
    assert [(c.label, c.before, c.after) for c in text.changes] == [
        ("Note", "none", "a, b")
    ]


def test_every_action_the_code_records_has_a_sentence():
    recorded = set()
    for path in pathlib.Path("orgadmin").rglob("*.py"):
        recorded |= set(re.findall(r'"((?:[a-z_]+)\.[a-z_]+)"', path.read_text()))
    prefixes = ("organization.", "member.", "team.", "domain.", "scim_token.", "sso.")
    prefixes += ("account.",)
    codes = {code for code in recorded if code.startswith(prefixes)}
    codes -= {"sso.py"}  # a module name, not an action
    assert codes - set(audit_text.ACTIONS) == set()
