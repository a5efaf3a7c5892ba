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
from tests.orgadmin.test_admin_one_door import offered_actions

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


@pytest.mark.parametrize(
    "model",
    [Organization, User, Member, Team, ClaimedDomain, SSOConfiguration, ScimToken],
    ids=lambda m: m.__name__,
)
def test_admin_offers_no_django_delete_that_would_skip_the_actions(
    populated, operator_client, model
):
    obj = model.objects.order_by("pk").first()
    info = (model._meta.app_label, model._meta.model_name)
    delete = reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])
    assert operator_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = operator_client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert "delete_selected" not in offered_actions(changelist)
    assert model.objects.filter(pk=obj.pk).exists()


def test_admin_remove_action_removes_members_through_the_action(
    populated, operator_client, owner
):
    member = Member.objects.get(email="pat@acme.example")
    response = operator_client.post(
        reverse("admin:orgadmin_member_changelist"),
        {"action": "remove", "_selected_action": [member.pk, owner.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Removed: 1." in page
    assert "at least one active owner" in page
    assert not Member.objects.filter(pk=member.pk).exists()
    assert User.objects.filter(email="pat@acme.example").exists()
    event = AuditEvent.objects.first()
    assert event.action == "member.removed" and event.actor_type == "operator"


def test_admin_delete_teams_action_deletes_through_the_action(
    populated, operator_client
):
    team = Team.objects.get()
    response = operator_client.post(
        reverse("admin:orgadmin_team_changelist"),
        {"action": "delete_teams", "_selected_action": [team.pk]},
        follow=True,
    )
    assert "Deleted: 1." in response.content.decode()
    assert not Team.objects.filter(pk=team.pk).exists()
    assert Member.objects.filter(email="pat@acme.example").exists()
    event = AuditEvent.objects.first()
    assert event.actor_type == "operator" and event.target_label == "Ops"


def user_change_data(user, **values) -> dict:
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [],
    }
    data.update(values)
    return {key: value for key, value in data.items() if value != ""}


def test_admin_user_edit_is_audited_as_the_operators(
    populated, operator_client, operator_user
):
    user = User.objects.get(email="pat@acme.example")
    url = reverse("admin:orgadmin_user_change", args=[user.pk])
    response = operator_client.post(
        url, user_change_data(user, is_staff="on", full_name="Pat Doe")
    )
    assert response.status_code == 302, response.context["errors"]
    user.refresh_from_db()
    assert user.is_staff and user.full_name == "Pat Doe"
    event = AuditEvent.objects.first()
    assert event.action == "account.updated"
    assert event.organization is None and event.organization_slug == ""
    assert event.actor_type == "operator" and event.actor_user == operator_user
    assert event.target_label == "pat@acme.example"
    assert event.changes == {
        "full_name": {"from": "", "to": "Pat Doe"},
        "is_staff": {"from": False, "to": True},
    }
    # Saving again without a change records nothing.
    count = AuditEvent.objects.count()
    assert operator_client.post(url, user_change_data(user)).status_code == 302
    assert AuditEvent.objects.count() == count


def test_admin_user_email_already_taken_is_an_error_next_to_the_field(
    populated, operator_client
):
    user = User.objects.get(email="pat@acme.example")
    response = operator_client.post(
        reverse("admin:orgadmin_user_change", args=[user.pk]),
        user_change_data(user, email="OWNER@acme.example"),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"]
    user.refresh_from_db()
    assert user.email == "pat@acme.example"


def test_admin_password_change_is_audited_without_the_password(
    populated, operator_client, operator_user
):
    user = User.objects.get(email="pat@acme.example")
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    new_password = "a-new-long-passphrase-42"
    response = operator_client.post(
        url,
        {
            "password1": new_password,
            "password2": new_password,
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)
    event = AuditEvent.objects.first()
    assert event.action == "account.password_changed"
    assert event.actor_user == operator_user and event.organization is None
    assert event.changes == {"password": "set"}
    assert new_password not in str(event.changes) + event.target_label
    assert user.password not in str(event.changes)

    operator_client.post(
        url, {"usable_password": "false", "unset-password": "Disable"}, follow=True
    )
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert AuditEvent.objects.first().changes == {"password": "disabled"}


def test_admin_password_change_refuses_a_mismatch_and_changes_nothing(
    populated, operator_client
):
    user = User.objects.get(email="pat@acme.example")
    count = AuditEvent.objects.count()
    response = operator_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {
            "password1": "a-new-long-passphrase-42",
            "password2": "another-long-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    assert "didn’t match" in response.content.decode()
    assert AuditEvent.objects.count() == count


def test_admin_user_add_creates_the_account_through_the_action(
    db, operator_client, operator_user
):
    password = "a-new-long-passphrase-42"
    response = operator_client.post(
        reverse("admin:orgadmin_user_add"),
        {
            "email": "New.Operator@Example.com",
            "password1": password,
            "password2": password,
        },
    )
    assert response.status_code == 302, response.context["errors"]
    user = User.objects.get(email="new.operator@example.com")
    assert response.url == reverse("admin:orgadmin_user_change", args=[user.pk])
    assert user.check_password(password) and not user.is_staff
    event = AuditEvent.objects.get(action="account.created")
    assert event.actor_user == operator_user
    assert event.changes == {"email": "new.operator@example.com", "password": "set"}
