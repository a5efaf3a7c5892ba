"""The audit log is append-only: no action, admin page or ORM call changes or deletes
an AuditEvent row, and deleting what an event names leaves the event as it was.

Each test runs its writes under a database hook that fails on any UPDATE or DELETE
statement on the audit table (raw SQL included), then compares every row that existed
before with what is stored after.
"""

import contextlib
import itertools
import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from orgadmin import actions, invitations
from orgadmin.audit import Actor, record_event
from orgadmin.models import (
    AuditEvent,
    AuditLogIsAppendOnly,
    Member,
    Organization,
    ScimToken,
    User,
)
from orgadmin.saml import ResponseRefused
from tests import helpers
from tests.dns_server import serving
from tests.orgadmin.test_admin_one_door import (
    BUILDERS,
    MODELS,
    offered_actions,
    unaudited_writes,
)

SYSTEM = helpers.SYSTEM
_REWRITE = re.compile(
    rf'^\s*(?:UPDATE|DELETE\s+FROM)\s+"?{AuditEvent._meta.db_table}"?'
    rf'|^\s*INSERT\s+INTO\s+"?{AuditEvent._meta.db_table}"?.*\bON\s+CONFLICT\b.*\bUPDATE\b',
    re.IGNORECASE | re.DOTALL,
)


def refuse_audit_rewrites(execute, sql, params, many, context):
    if _REWRITE.search(sql):
        raise AssertionError(f"An audit row was rewritten: {sql[:200]}")
    return execute(sql, params, many, context)


def stored_events() -> list[tuple]:
    return list(AuditEvent.objects.order_by("pk").values_list())


@contextlib.contextmanager
def audit_log_left_as_it_was():
    """Fail on any statement that rewrites audit rows, and on any row that changed."""
    before = stored_events()
    with connection.execute_wrapper(refuse_audit_rewrites):
        yield
    after = stored_events()
    assert after[: len(before)] == before


# ------------------------------------------------------------------------------ the ORM


def update_through_the_manager(event):
    AuditEvent.objects.update(action="edited")


def update_through_a_queryset(event):
    AuditEvent.objects.filter(pk=event.pk).update(action="edited")


def update_through_the_base_manager(event):
    AuditEvent._base_manager.filter(pk=event.pk).update(action="edited")


def update_through_a_related_manager(event):
    event.organization.audit_events.update(action="edited")


def delete_through_a_queryset(event):
    AuditEvent.objects.filter(pk=event.pk).delete()


def delete_through_a_related_manager(event):
    event.organization.audit_events.all().delete()


def delete_the_instance(event):
    event.delete()


def save_a_changed_instance(event):
    event.action = "edited"
    event.save()


def save_only_some_fields(event):
    event.action = "edited"
    event.save(update_fields=["action"])


def force_an_update(event):
    fresh = AuditEvent(pk=event.pk, actor_label="x", action="edited")
    fresh.save(force_update=True)


def bulk_update(event):
    event.action = "edited"
    AuditEvent.objects.bulk_update([event], ["action"])


def update_or_create(event):
    AuditEvent.objects.update_or_create(pk=event.pk, defaults={"action": "edited"})


def upsert(event):
    AuditEvent.objects.bulk_create(
        [AuditEvent(pk=event.pk, actor_label="x", action="edited")],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["action"],
    )


def raw_delete(event):
    # What Django's deletion collector calls to cascade without loading rows.
    AuditEvent.objects.filter(pk=event.pk)._raw_delete(connection.alias)


ORM_REWRITES = [
    update_through_the_manager,
    update_through_a_queryset,
    update_through_the_base_manager,
    update_through_a_related_manager,
    delete_through_a_queryset,
    delete_through_a_related_manager,
    delete_the_instance,
    save_a_changed_instance,
    save_only_some_fields,
    force_an_update,
    bulk_update,
    update_or_create,
    upsert,
    raw_delete,
]


@pytest.mark.parametrize("rewrite", ORM_REWRITES, ids=lambda f: f.__name__)
def test_each_orm_call_that_would_rewrite_an_audit_event_raises(organization, rewrite):
    event = AuditEvent.objects.filter(organization=organization).first()
    with audit_log_left_as_it_was(), pytest.raises(AuditLogIsAppendOnly):
        rewrite(event)


def test_a_new_event_given_the_pk_of_a_stored_one_is_refused_not_written_over(
    organization,
):
    event = AuditEvent.objects.filter(organization=organization).first()
    copy = AuditEvent(pk=event.pk, actor_label="x", action="edited")
    with (
        audit_log_left_as_it_was(),
        pytest.raises(IntegrityError),
        transaction.atomic(),
    ):
        copy.save()


def test_events_are_still_recorded_and_read(organization):
    with audit_log_left_as_it_was():
        event = record_event(organization, actor=SYSTEM, action="test.recorded")
        AuditEvent(actor_label="System", action="test.saved").save()
    assert AuditEvent.objects.for_organization(organization).filter(pk=event.pk)
    assert AuditEvent.objects.filter(action="test.saved").count() == 1


def test_deleting_the_organization_account_or_token_an_event_names_keeps_the_event(
    organization,
):
    owner = organization.members.get(role="owner").user
    token, _ = actions.issue_scim_token(organization, name="Entra", actor=owner)
    by_token = record_event(
        organization, actor=Actor.for_scim_token(token), action="test.by_token"
    )
    by_owner = record_event(
        organization, actor=Actor.for_user(owner), action="test.by_owner"
    )
    kept = {
        event.pk: (event.organization_id, event.actor_user_id, event.actor_token_id)
        for event in AuditEvent.objects.filter(organization=organization)
    }
    with audit_log_left_as_it_was():
        # No action deletes these (the admin offers no delete either); a shell might.
        ScimToken.objects.filter(pk=token.pk).delete()
        User.objects.filter(pk=owner.pk).delete()
        Organization.objects.filter(pk=organization.pk).delete()
    assert not Organization.objects.filter(pk=organization.pk).exists()
    events = AuditEvent.objects.filter(pk__in=kept)
    assert {
        e.pk: (e.organization_id, e.actor_user_id, e.actor_token_id) for e in events
    } == kept
    by_token = AuditEvent.objects.get(pk=by_token.pk)
    assert by_token.organization_slug == "acme"
    assert by_token.actor_label == Actor.for_scim_token(token).label
    assert AuditEvent.objects.get(pk=by_owner.pk).actor_label == owner.email


# ---------------------------------------------------------------------------- the admin


@pytest.fixture
def operator_client(client, operator_user):
    client.force_login(operator_user)
    return client


def test_the_audit_event_admin_shows_events_and_offers_no_add_change_or_delete(
    operator_client, organization
):
    event = AuditEvent.objects.filter(organization=organization).first()
    changelist = reverse("admin:orgadmin_auditevent_changelist")
    change = reverse("admin:orgadmin_auditevent_change", args=[event.pk])
    delete = reverse("admin:orgadmin_auditevent_delete", args=[event.pk])
    with audit_log_left_as_it_was():
        page = operator_client.get(changelist)
        assert page.status_code == 200 and event.actor_label in page.content.decode()
        assert "delete_selected" not in offered_actions(page)
        assert operator_client.get(change).status_code == 200  # a view-only page
        assert operator_client.post(change, {"action": "edited"}).status_code == 403
        assert operator_client.get(delete).status_code == 403
        assert operator_client.post(delete, {"post": "yes"}).status_code == 403
        add = reverse("admin:orgadmin_auditevent_add")
        assert operator_client.post(add, {"action": "x"}).status_code == 403
        operator_client.post(
            changelist,
            {
                "action": "delete_selected",
                "_selected_action": [event.pk],
                "post": "yes",
            },
        )


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_no_model_admin_page_or_admin_action_rewrites_audit_rows(
    label, operator_client, operator_user, organization
):
    model = MODELS[label]
    numbers = itertools.count(1)

    def build():
        return BUILDERS[label](organization, next(numbers))

    info = (model._meta.app_label, model._meta.model_name)
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    with audit_log_left_as_it_was():
        # Every change and delete the admin offers (see test_admin_one_door).
        unaudited_writes(operator_client, operator_user, model, build)
        for name in offered_actions(operator_client.get(changelist)):
            if not name:
                continue
            obj = build()
            operator_client.post(
                changelist,
                {"action": name, "_selected_action": [obj.pk], "post": "yes"},
            )


# -------------------------------------------------------------------------- the actions


def _pending(organization, n):
    return actions.add_member(
        organization, email=f"invited{n}@elsewhere.example", actor=SYSTEM
    )


def _member(organization, n):
    return helpers.make_member(organization, f"person{n}@acme.example")


def _team(organization, n):
    return actions.create_team(organization, display_name=f"Team {n}", actor=SYSTEM)


def _claim(organization, n):
    return actions.claim_domain(
        organization, domain=f"labs{n}.acme.example", actor=SYSTEM
    )


def _accept(organization, n):
    member = _pending(organization, n)
    token = invitations.make_token(member)
    nonce = invitations.read_token(token)[1]
    actions.accept_invitation(member, nonce=nonce, password=helpers.PASSWORD)


def _refuse_sso(organization, n):
    configuration = actions.update_sso_configuration(
        organization, enabled=False, actor=SYSTEM
    )
    actions.refuse_sso_attempt(
        configuration, refusal=ResponseRefused("signature", "Not signed.")
    )


def _remove_team_member(organization, n):
    member = _member(organization, n)
    team = actions.create_team(
        organization, display_name=f"Team {n}", member_ids=[member.pk], actor=SYSTEM
    )
    actions.remove_team_members(team, member_ids=[member.pk], actor=SYSTEM)


def _removed(organization, n):
    actions.remove_member(_member(organization, n), actor=SYSTEM)
    return organization.removed_members.get()


def _provision(organization, n):
    return actions.provision_member(
        organization, user_name=f"scim{n}@acme.example", actor=SYSTEM
    )


# Each action run on fresh rows; a new action fails the test below until it is here
# (or in NOT_RUN_HERE with the reason and where it is exercised).
RUN_ACTION = {
    "accept_invitation": _accept,
    "add_member": _pending,
    "adopt_team_for_scim": lambda o, n: actions.adopt_team_for_scim(
        _team(o, n), actor=SYSTEM
    ),
    "add_team_members": lambda o, n: actions.add_team_members(
        _team(o, n), member_ids=[_member(o, n).pk], actor=SYSTEM
    ),
    "change_member_role": lambda o, n: actions.change_member_role(
        _member(o, n), role=Member.Role.ADMIN, actor=SYSTEM
    ),
    "check_domain": lambda o, n: actions.check_domain(_claim(o, n), actor=SYSTEM),
    "claim_domain": _claim,
    "create_account": lambda o, n: actions.create_account(
        email=f"account{n}@acme.example", actor=SYSTEM
    ),
    "create_organization": lambda o, n: actions.create_organization(
        name=f"Org {n}", slug=f"org{n}", owner_email=f"o{n}@org.example", actor=SYSTEM
    ),
    "create_team": _team,
    "deactivate_member": lambda o, n: actions.deactivate_member(
        _member(o, n), actor=SYSTEM
    ),
    "delete_team": lambda o, n: actions.delete_team(_team(o, n), actor=SYSTEM),
    "expire_domain": lambda o, n: actions.expire_domain(
        _claim(o, n), actor=SYSTEM, now=timezone.now() + timedelta(days=3650)
    ),
    "issue_scim_token": lambda o, n: actions.issue_scim_token(
        o, name=f"Token {n}", actor=SYSTEM
    ),
    "linkable_account": lambda o, n: actions.linkable_account(
        "owner@acme.example", verified_domains=["acme.example"]
    ),
    "mark_domain_verified": lambda o, n: actions.mark_domain_verified(
        _claim(o, n), actor=SYSTEM
    ),
    "provision_member": _provision,
    "purge_removed_members": lambda o, n: actions.purge_removed_members(
        actor=SYSTEM, at=timezone.now() + timedelta(days=3650)
    ),
    "reactivate_member": lambda o, n: actions.reactivate_member(
        actions.deactivate_member(_member(o, n), actor=SYSTEM), actor=SYSTEM
    ),
    "recheck_domains": lambda o, n: actions.recheck_domains(actor=SYSTEM),
    "record_proven_email": lambda o, n: actions.record_proven_email(
        _member(o, n).user, email=f"person{n}@acme.example", proof="verified_email"
    ),
    "record_security_event": lambda o, n: actions.record_security_event(
        _member(o, n).user, action="account.sign_in_failed", ip_address="192.0.2.1"
    ),
    "refuse_sso_attempt": _refuse_sso,
    "release_domain": lambda o, n: actions.release_domain(_claim(o, n), actor=SYSTEM),
    "remove_member": lambda o, n: actions.remove_member(_member(o, n), actor=SYSTEM),
    "remove_team_members": _remove_team_member,
    "restore_member": lambda o, n: actions.restore_member(_removed(o, n), actor=SYSTEM),
    "resume_deprovisioning": lambda o, n: actions.resume_deprovisioning(
        o, actor=SYSTEM
    ),
    "resend_invitation": lambda o, n: actions.resend_invitation(
        _pending(o, n), actor=SYSTEM
    ),
    "revoke_invitation": lambda o, n: actions.revoke_invitation(
        _pending(o, n), actor=SYSTEM
    ),
    "revoke_scim_token": lambda o, n: actions.revoke_scim_token(
        actions.issue_scim_token(o, name=f"Token {n}", actor=SYSTEM)[0], actor=SYSTEM
    ),
    "set_account_password": lambda o, n: actions.set_account_password(
        _member(o, n).user, password="another-long-password", actor=SYSTEM
    ),
    "set_team_grants_role": lambda o, n: actions.set_team_grants_role(
        actions.create_team(
            o,
            display_name=f"Group {n}",
            member_ids=[_member(o, n).pk],
            scim_managed=True,
            actor=SYSTEM,
        ),
        grants_role=Member.Role.ADMIN,
        actor=SYSTEM,
    ),
    "transfer_ownership": lambda o, n: actions.transfer_ownership(
        o, to_member=_member(o, n), actor=o.members.get(role=Member.Role.OWNER).user
    ),
    "update_account": lambda o, n: actions.update_account(
        _member(o, n).user, full_name=f"Person {n}", actor=SYSTEM
    ),
    "update_deprovisioning_brake": lambda o, n: actions.update_deprovisioning_brake(
        o, share_percent=20 + n, minimum=10, actor=SYSTEM
    ),
    "update_member": lambda o, n: actions.update_member(
        _provision(o, n), display_name=f"Person {n}", actor=SYSTEM
    ),
    "update_organization": lambda o, n: actions.update_organization(
        o, name=f"Acme {n}", actor=SYSTEM
    ),
    "update_sso_configuration": lambda o, n: actions.update_sso_configuration(
        o, idp_entity_id=f"https://idp{n}.example/", actor=SYSTEM
    ),
    "update_team": lambda o, n: actions.update_team(
        _team(o, n), display_name=f"Renamed {n}", actor=SYSTEM
    ),
    "warn_of_expiring_sso_certificates": lambda o, n: (
        actions.warn_of_expiring_sso_certificates()
    ),
}
NOT_RUN_HERE = {
    "admit_sso_sign_in": "needs a signed SAML assertion; tests/orgadmin/test_sso_* "
    "sign in through it, where any audit rewrite raises AuditLogIsAppendOnly",
    "refresh_sso_metadata": "fetches the IdP's metadata URL; its tests serve one, "
    "where any audit rewrite raises AuditLogIsAppendOnly",
}
ACTIONS = sorted(
    name
    for name in actions.__all__
    if callable(getattr(actions, name)) and not name.isupper()
)


def test_every_action_is_run_below_or_says_why_not():
    assert sorted(set(RUN_ACTION) | set(NOT_RUN_HERE)) == ACTIONS


@pytest.mark.parametrize("name", sorted(RUN_ACTION))
def test_no_action_rewrites_audit_rows(name, organization, settings):
    with serving(settings), audit_log_left_as_it_was():
        RUN_ACTION[name](organization, 1)
        # And once more on rows that already have history.
        RUN_ACTION[name](organization, 2)


def test_the_action_walk_would_notice_a_rewrite(organization):
    table = AuditEvent._meta.db_table
    with (
        pytest.raises(AssertionError, match="audit row was rewritten"),
        audit_log_left_as_it_was(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET action = 'edited'")
