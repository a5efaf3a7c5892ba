"""The Django admin has one door: every delete or change it offers writes an audit event.

The walk covers every ModelAdmin registered on admin.site, so that a newly registered
admin is checked without editing this file; a model the walk cannot build fails until
BUILDERS has it (or, for a third-party model, NOT_OURS gives the reason to skip it).
"""

import functools
import itertools
import json
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from orgadmin import actions, saml
from orgadmin.models import AuditEvent, SAMLAssertionUse, ScimRequestLog
from tests.helpers import SYSTEM, make_member, make_organization
from tests.orgadmin.test_sso_sign_in import ACS_URL, ENTITY_ID, configure, post_to_acs
from tests.saml_idp import FakeIdP

NOT_OURS = {
    "auth.group": "Django's permission groups; who is in one is audited on the account",
    "account.emailaddress": "django-allauth's sign-in addresses, kept by allauth",
    "socialaccount.socialapp": "django-allauth's provider apps; SAML settings are "
    "SSOConfiguration rows",
    "socialaccount.socialaccount": "django-allauth's links to IdP identities",
    "socialaccount.socialtoken": "django-allauth's OAuth tokens (unused with SAML)",
    "mfa.authenticator": "django-allauth's two-factor devices",
}


def build_organization(organization, n):
    return make_organization(f"org{n}", domain=None)


def build_user(organization, n):
    return make_member(organization, f"person{n}@acme.example").user


def build_member(organization, n):
    return make_member(organization, f"person{n}@acme.example")


def build_team(organization, n):
    return actions.create_team(organization, display_name=f"Team {n}", actor=SYSTEM)


def build_claimed_domain(organization, n):
    return actions.claim_domain(
        organization, domain=f"labs{n}.acme.example", actor=SYSTEM
    )


def build_sso_configuration(organization, n):
    # One configuration per organization.
    return actions.update_sso_configuration(
        make_organization(f"sso{n}", domain=None), enabled=True, actor=SYSTEM
    )


def build_scim_token(organization, n):
    token, _ = actions.issue_scim_token(organization, name=f"Token {n}", actor=SYSTEM)
    return token


def build_scim_request_log(organization, n):
    # scim/request_log.py writes these rows for each SCIM request; no action does.
    return ScimRequestLog.objects.create(
        organization=organization, method="GET", path=f"/scim/v2/Users/{n}", status=200
    )


def build_sso_attempt(organization, n):
    configuration = actions.update_sso_configuration(organization, actor=SYSTEM)
    return actions.refuse_sso_attempt(
        configuration,
        refusal=saml.ResponseRefused(
            "signature",
            "The response is not signed.",
            received=saml.Received(name_id=f"person{n}@acme.example"),
        ),
    )


@functools.cache
def signing_idp() -> FakeIdP:
    # One key for the whole run: making an RSA key per row would slow the walk.
    return FakeIdP()


def build_saml_assertion_use(organization, n):
    # Written only when an accepted sign-in uses its assertion ID up: sign in, as an
    # IdP-initiated response, with a response really signed by the test IdP.
    configure(organization, signing_idp(), allow_idp_initiated=True)
    response = signing_idp().response(
        acs_url=ACS_URL, audience=ENTITY_ID, email=f"sso{n}@acme.example"
    )
    assert post_to_acs(Client(), response).status_code == 302
    return SAMLAssertionUse.objects.filter(organization=organization).latest("pk")


def build_audit_event(organization, n):
    build_team(organization, n)
    return AuditEvent.objects.first()


def build_deprovisioning_brake(organization, n):
    actions.update_deprovisioning_brake(
        organization, share_percent=20 + n, minimum=10, actor=SYSTEM
    )
    return organization.deprovisioning_brake


def build_removed_member(organization, n):
    actions.remove_member(
        make_member(organization, f"gone{n}@acme.example"), actor=SYSTEM
    )
    return organization.removed_members.get(user_name=f"gone{n}@acme.example")


BUILDERS = {
    "orgadmin.organization": build_organization,
    "orgadmin.user": build_user,
    "orgadmin.member": build_member,
    "orgadmin.team": build_team,
    "orgadmin.claimeddomain": build_claimed_domain,
    "orgadmin.ssoconfiguration": build_sso_configuration,
    "orgadmin.scimtoken": build_scim_token,
    "orgadmin.scimrequestlog": build_scim_request_log,
    "orgadmin.ssoattempt": build_sso_attempt,
    "orgadmin.samlassertionuse": build_saml_assertion_use,
    "orgadmin.auditevent": build_audit_event,
    "orgadmin.deprovisioningbrake": build_deprovisioning_brake,
    "orgadmin.removedmember": build_removed_member,
}
REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)
MODELS = {model._meta.label_lower: model for model in admin.site._registry}


class FormControls(HTMLParser):
    """The named controls of one <form>, as a browser would submit them."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.controls = []
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "name" not in attrs and tag != "option":
            return
        if tag == "input":
            self.controls.append(
                {
                    "tag": "input",
                    "type": attrs.get("type", "text"),
                    "name": attrs["name"],
                    "value": attrs.get("value", ""),
                    "checked": "checked" in attrs,
                }
            )
        elif tag == "select":
            self._select = {
                "tag": "select",
                "name": attrs["name"],
                "multiple": "multiple" in attrs,
                "options": [],
            }
            self.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            self._select["options"].append((value, "selected" in attrs))
        elif tag == "textarea":
            self._textarea = {"tag": "textarea", "name": attrs["name"], "value": ""}
            self.controls.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_controls(page, form_id):
    parser = FormControls(form_id)
    parser.feed(page.content.decode())
    return parser.controls


def submitted(controls) -> dict[str, list[str]]:
    data = {}
    for control in controls:
        name = control["name"]
        if control["tag"] == "select":
            values = [value for value, selected in control["options"] if selected]
            if not values and not control["multiple"] and control["options"]:
                values = [control["options"][0][0]]
            data.setdefault(name, []).extend(values)
        elif control["tag"] == "textarea":
            data.setdefault(name, []).append(control["value"].lstrip("\n"))
        elif control["type"] in ("checkbox", "radio"):
            if control["checked"]:
                data.setdefault(name, []).append(control["value"] or "on")
        elif control["type"] not in ("submit", "button", "file", "image", "reset"):
            data.setdefault(name, []).append(control["value"])
    return data


def with_change(controls, data, name) -> dict[str, list[str]] | None:
    """The data with field `name` changed as a person would; None when there is no
    rule for its control."""
    control = next((c for c in controls if c["name"] == name), None)
    if control is not None:
        value = changed_value(control, data)
        return None if value is None else {**data, name: value}
    date, time = data.get(f"{name}_0"), data.get(f"{name}_1")
    if date is not None and time is not None:
        # A SplitDateTimeWidget: move it to another day.
        day = "2031-01-02" if date == ["2031-01-01"] else "2031-01-01"
        return {**data, f"{name}_0": [day], f"{name}_1": ["12:00:00"]}
    return None


def changed_value(control, data) -> list[str] | None:
    current = data.get(control["name"], [])
    if control["tag"] == "select":
        values = [value for value, _ in control["options"] if value]
        if control["multiple"]:
            unselected = [value for value in values if value not in current]
            return current + unselected[:1] if unselected else current[1:]
        others = [value for value in values if value not in current]
        return others[:1] or None
    kind = "textarea" if control["tag"] == "textarea" else control["type"]
    value = current[0] if current else ""
    if kind == "checkbox":
        return [] if current else [control["value"] or "on"]
    if kind == "email":
        return [f"changed-{value}" if value else "changed@acme.example"]
    if kind == "url":
        return ["https://changed.example/"]
    if kind == "number":
        return [str(int(value or 0) + 1)]
    if kind == "textarea" and value.strip()[:1] in ("[", "{"):
        # A JSONField.
        parsed = json.loads(value)
        changed = (
            [*parsed, "changed"] if isinstance(parsed, list) else {**parsed, "c": 1}
        )
        return [json.dumps(changed)]
    if kind in ("text", "textarea"):
        return [f"{value} changed" if value else "Changed"]
    return None


def offered_actions(changelist) -> list[str]:
    """The names in a changelist's action menu."""
    action_form = changelist.context["action_form"]
    if action_form is None:
        return []
    return [name for name, _ in action_form.fields["action"].choices]


def operator_event_since(last_pk, operator_user) -> bool:
    return AuditEvent.objects.filter(
        pk__gt=last_pk, actor_type="operator", actor_user=operator_user
    ).exists()


def last_event_pk() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def unaudited_writes(client, operator_user, model, build) -> list[str]:
    """Perform each delete and change the admin offers on fresh rows; describe each
    that wrote no audit event as the operator's, or that the admin refused."""
    problems = []
    info = (model._meta.app_label, model._meta.model_name)
    changelist = reverse("admin:{}_{}_changelist".format(*info))

    obj = build()
    change_url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    editable = [name for name, field in form.fields.items() if not field.disabled]
    form_id = f"{model._meta.model_name}_form"
    for name in editable:
        page = client.get(change_url)
        controls = form_controls(page, form_id)
        data = with_change(controls, submitted(controls), name)
        if data is None:
            problems.append(f"{name}: no rule to change it; add one to with_change()")
            continue
        since = last_event_pk()
        response = client.post(change_url, data)
        if response.status_code != 302:
            errors = response.context["errors"] if response.context else ""
            problems.append(f"change of {name} refused: {errors}")
        elif not operator_event_since(since, operator_user):
            problems.append(f"change of {name} wrote no audit event")

    obj = build()
    delete_url = reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])
    if client.get(delete_url).status_code == 200:
        since = last_event_pk()
        client.post(delete_url, {"post": "yes"})
        if not operator_event_since(since, operator_user):
            problems.append("the delete view wrote no audit event")

    obj = build()
    if "delete_selected" in offered_actions(client.get(changelist)):
        since = last_event_pk()
        client.post(
            changelist,
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )
        if not operator_event_since(since, operator_user):
            problems.append('"Delete selected" wrote no audit event')
    return problems


@pytest.fixture
def operator_client(client, operator_user):
    client.force_login(operator_user)
    return client


@pytest.fixture
def builder(organization):
    """Build rows of a model, each new one distinct from the last."""
    numbers = itertools.count(1)
    # A group to put an account in, so that the account's groups can change.
    Group.objects.create(name="Support")

    def make(build):
        return lambda: build(organization, next(numbers))

    return make


@pytest.mark.parametrize("label", REGISTERED)
def test_every_admin_delete_or_change_writes_an_audit_event(
    label, operator_client, operator_user, builder
):
    if label in NOT_OURS:
        pytest.skip(NOT_OURS[label])
    if label not in BUILDERS:
        pytest.fail(
            f"{label} is registered in the admin, but this test cannot build one: add "
            "it to BUILDERS (or, for a third-party model, to NOT_OURS with a reason)."
        )
    build = builder(BUILDERS[label])
    assert unaudited_writes(operator_client, operator_user, MODELS[label], build) == []


def test_only_third_party_admins_are_skipped_and_each_is_registered():
    assert not [label for label in NOT_OURS if label.startswith("orgadmin.")]
    assert set(NOT_OURS) <= set(REGISTERED)


def test_the_walk_reports_an_admin_that_writes_without_the_actions(
    operator_client, operator_user, builder
):
    # Django's own Group admin changes and deletes rows directly: the walk must say so.
    build = builder(lambda organization, n: Group.objects.create(name=f"Group {n}"))
    problems = unaudited_writes(operator_client, operator_user, Group, build)
    assert problems == [
        "change of name wrote no audit event",
        "change of permissions wrote no audit event",
        "the delete view wrote no audit event",
        '"Delete selected" wrote no audit event',
    ]
