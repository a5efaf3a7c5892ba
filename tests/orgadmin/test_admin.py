import pytest
from django.urls import reverse

from orgadmin import actions
from orgadmin.models import (
    AuditEvent,
    ClaimedDomain,
    Member,
    Organization,
    ScimRequestLog,
    ScimToken,
    SSOConfiguration,
    Team,
    User,
)
from tests.dns_server import serving
from tests.helpers import SYSTEM, issue_token, make_member

MODELS = [
    Organization,
    User,
    Member,
    Team,
    ClaimedDomain,
    SSOConfiguration,
    ScimToken,
    ScimRequestLog,
    AuditEvent,
]


@pytest.fixture
def populated(organization, owner):
    member = make_member(organization, "pat@acme.example")
    actions.create_team(
        organization, display_name="Ops", member_ids=[member.pk], actor=SYSTEM
    )
    actions.update_sso_configuration(organization, enabled=True, actor=SYSTEM)
    issue_token(organization)
    ScimRequestLog.objects.create(
        organization=organization, method="GET", path="/scim/v2/Users", status=200
    )
    return organization


def inline_management_data(page) -> dict:
    """The hidden management fields of a change form's (read-only) inlines."""
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        form = inline.formset.management_form
        for name, field in form.fields.items():
            data[f"{form.prefix}-{name}"] = form.initial.get(name, field.initial)
        for row in inline.formset.forms:
            for name in row.fields:
                value = row[name].value()
                if value is not None:
                    data[row.add_prefix(name)] = value
    return data


@pytest.fixture
def operator_client(client, operator_user):
    client.force_login(operator_user)
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_admin_changelist_and_change_form_loads(populated, operator_client, model):
    info = (model._meta.app_label, model._meta.model_name)
    response = operator_client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert response.status_code == 200
    obj = model.objects.first()
    response = operator_client.get(
        reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
    )
    assert response.status_code == 200


def test_admin_token_pages_never_show_the_digest(populated, operator_client):
    token = ScimToken.objects.get()
    page = operator_client.get(
        reverse("admin:orgadmin_scimtoken_change", args=[token.pk])
    )
    assert token.digest not in page.content.decode()
    assert token.prefix in page.content.decode()


def test_admin_audit_log_is_read_only(populated, operator_client):
    event = AuditEvent.objects.first()
    assert (
        operator_client.get(reverse("admin:orgadmin_auditevent_add")).status_code == 403
    )
    delete = reverse("admin:orgadmin_auditevent_delete", args=[event.pk])
    assert operator_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_admin_revoke_action_revokes_and_audits(populated, operator_client):
    token = ScimToken.objects.get()
    response = operator_client.post(
        reverse("admin:orgadmin_scimtoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = AuditEvent.objects.first()
    assert event.action == "scim_token.revoked" and event.actor_type == "operator"


def test_admin_domain_override_and_release_are_audited(populated, operator_client):
    claimed = actions.claim_domain(populated, domain="labs.acme.example", actor=SYSTEM)
    url = reverse("admin:orgadmin_claimeddomain_changelist")
    operator_client.post(
        url, {"action": "mark_verified", "_selected_action": [claimed.pk]}
    )
    claimed.refresh_from_db()
    assert claimed.status == "verified"
    assert AuditEvent.objects.first().changes["override"] is True
    operator_client.post(url, {"action": "release", "_selected_action": [claimed.pk]})
    assert not ClaimedDomain.objects.filter(pk=claimed.pk).exists()
    assert AuditEvent.objects.first().action == "domain.released"


def test_admin_organization_edit_goes_through_the_action(populated, operator_client):
    url = reverse("admin:orgadmin_organization_change", args=[populated.pk])
    response = operator_client.post(
        url,
        {
            **inline_management_data(operator_client.get(url)),
            "name": "Acme",
            "restrict_to_claimed_domains": "on",
            "sso_enabled": "on",
            # scim_enabled left off: the operator turns SCIM off.
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    populated.refresh_from_db()
    assert populated.scim_enabled is False
    event = AuditEvent.objects.first()
    assert event.action == "organization.updated"
    assert event.changes == {"scim_enabled": {"from": True, "to": False}}


def test_admin_organization_add_creates_it_through_the_action(db, operator_client):
    response = operator_client.post(
        reverse("admin:orgadmin_organization_add"),
        {
            "name": "Initech",
            "slug": "initech",
            "scim_enabled": "on",
            "sso_enabled": "on",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    organization = Organization.objects.get(slug="initech")
    assert organization.restrict_to_claimed_domains is False
    assert AuditEvent.objects.filter(action="organization.created").count() == 1


def test_admin_member_deactivation_refuses_the_last_owner(
    populated, operator_client, owner
):
    response = operator_client.post(
        reverse("admin:orgadmin_member_changelist"),
        {"action": "deactivate", "_selected_action": [owner.pk]},
        follow=True,
    )
    assert "at least one active owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.is_active


def test_admin_check_now_looks_up_dns_and_reports(populated, operator_client, settings):
    claimed = actions.claim_domain(populated, domain="labs.acme.example", actor=SYSTEM)
    with serving(settings) as responder:
        responder.set_txt(claimed.domain, claimed.record_value)
        response = operator_client.post(
            reverse("admin:orgadmin_claimeddomain_changelist"),
            {"action": "check_now", "_selected_action": [claimed.pk]},
            follow=True,
        )
    assert "Checked: 1." in response.content.decode()
    claimed.refresh_from_db()
    assert claimed.status == "verified"
