"""The deprovisioning brake: SCIM requests that take access away, counted per
organization over a rolling hour, refused once there are too many.

A request counts when a SCIM token deactivates an active member or deletes one
(update_member and remove_member call `brake_deprovisioning` inside their
transaction). The request that would make the count exceed the organization's
threshold (by default more than 20% of the members active when the hour began, and
at least 10) raises DeprovisioningPaused, and so does every further one until an
owner presses Resume: the action's transaction rolls back, so nothing of the request
is applied. `holds_back_when_paused` then records the refused request, the trip and
its audit event in a transaction of their own, and warns the owners and admins.

Counting is race-safe: every counted request locks the organization's brake row
first, so two requests never both see room for one more.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from django.db import connection, transaction
from django.utils import timezone

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._mail import _administrator_emails, _send_templated_mail
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import DeprovisioningPaused, InvalidValue, NotPermitted
from orgadmin.models import (
    AuditEvent,
    Deprovisioning,
    DeprovisioningBrake,
    Member,
    Organization,
    User,
)

# Seconds an identity provider is asked to wait before retrying a refused request.
# Entra ID and Okta retry on their next cycle anyway; an owner should act before
# the provisioning job gives up (README: "The deprovisioning brake").
RETRY_AFTER = 600

P = ParamSpec("P")
R = TypeVar("R")


def brake_deprovisioning(member: Member, *, actor: Actor, kind: str) -> None:
    """Count a request that takes the active `member`'s access away, or refuse it.

    Called inside the action's transaction, after its own checks. Only a SCIM token
    counts: for people, operators and the system it returns at once, without a query.
    A counted request costs three queries: the lock, one SELECT of the window, the
    INSERT of the request; at most once a window, a DELETE of the old ones too.
    """
    if actor.type != AuditEvent.ActorType.SCIM_TOKEN:
        return
    # The lock comes first, in a statement of its own: a statement that counted
    # while it waited for the lock would count from before the other request's
    # commit.
    brake = _locked_brake(member.organization_id)
    at = timezone.now()
    # A tripped brake refuses whatever the count, and its message tells the exact
    # one; otherwise the count needs to be exact only where it decides.
    count, still_active, stale = _count_window(brake, at, exact=brake.is_tripped)
    active_at_start = still_active + count
    if brake.is_tripped or brake.trips_at(count + 1, active_at_start):
        raise DeprovisioningPaused(
            _paused_message(brake, count, active_at_start),
            retry_after=RETRY_AFTER,
            held_back={
                "organization_id": member.organization_id,
                "kind": kind,
                "member_scim_id": member.scim_id,
                "member_label": member.label,
                "actor": actor,
                "at": at,
                "count": count,
                "active_at_start": active_at_start,
            },
        )
    if stale:
        # The applied requests older than any window are no longer needed. Deleted
        # only when one is two windows old: what is left is then younger than a
        # window, so this runs at most once a window, not on every request.
        Deprovisioning.objects.filter(
            organization_id=member.organization_id,
            held_back=False,
            created_at__lte=at - DeprovisioningBrake.WINDOW,
        ).delete()
    Deprovisioning.objects.create(
        organization_id=member.organization_id,
        created_at=at,
        kind=kind,
        member_scim_id=member.scim_id,
        member_label=member.label[:255],
        token=actor.token,
        token_label=actor.label[:300],
    )


def window_counts(brake: DeprovisioningBrake, at: datetime) -> tuple[int, int]:
    """The requests counted in the window ending at `at`, and the members active
    when it began: those active now and created before it, plus those the window's
    requests took away (each was active until then)."""
    count, still_active, _ = _count_window(brake, at, exact=True)
    return count, still_active + count


def _count_window(
    brake: DeprovisioningBrake, at: datetime, *, exact: bool
) -> tuple[int, int, bool]:
    """In one query: the applied requests in the window ending at `at`, the members
    active now and created before it began, and whether applied requests two
    windows old are left to delete.

    Unless `exact`, the members are counted only up to what decides whether one more
    request trips the brake. It trips when fewer than (count + 1) * 100 / share
    were active at the start (`DeprovisioningBrake.trips_at`), so counting up to
    that (plus one, as the division rounds down) decides the same: below the bound
    the count is exact, so a trip and its message are too; at the bound there is
    room either way. An organization of 100,000 members is then read a few dozen
    members per request, not 100,000 (PostgreSQL stops its scan of the
    organization's index at the bound).

    Raw SQL because the ORM has no LIMIT by an expression (SQLite and PostgreSQL
    take a scalar subquery there, evaluated once before the scan), and the same
    query built from expressions took longer to compile than the round trip it
    saves.
    """
    start = brake.window_start(at)
    quote = connection.ops.quote_name
    requests = quote(Deprovisioning._meta.db_table)
    members = quote(Member._meta.db_table)
    bound = "" if exact else "LIMIT (SELECT (n + 1) * 100 / %s + 1 FROM counted)"
    sql = f"""
        WITH counted AS (
            SELECT COUNT(*) AS n FROM {requests}
            WHERE organization_id = %s AND NOT held_back AND created_at > %s
        )
        SELECT
            n,
            (SELECT COUNT(*) FROM (
                SELECT 1 FROM {members}
                WHERE organization_id = %s AND is_active AND created_at <= %s
                {bound}
            ) AS still_active),
            EXISTS (
                SELECT 1 FROM {requests}
                WHERE organization_id = %s AND NOT held_back AND created_at <= %s
            )
        FROM counted
    """
    adapt = connection.ops.adapt_datetimefield_value
    organization_id = brake.organization_id
    params = [organization_id, adapt(start), organization_id, adapt(start)]
    if not exact:
        params.append(brake.share_percent)
    params += [organization_id, adapt(at - 2 * DeprovisioningBrake.WINDOW)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, still_active, stale = cursor.fetchone()
    return count, still_active, bool(stale)


def holds_back_when_paused(action: Callable[P, R]) -> Callable[P, R]:
    """Wrap a member action: when the brake refuses it, record what was held back
    once the action's transaction has rolled back, then let the refusal out.

    The record is written after the rollback, in a transaction of its own, so the
    refusal leaves it and nothing else. The SCIM views call actions outside any
    transaction; a caller inside one would roll the record back with it.
    """

    @functools.wraps(action)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return action(*args, **kwargs)
        except DeprovisioningPaused as paused:
            _hold_back(paused)
            raise

    return run


def _hold_back(paused: DeprovisioningPaused) -> None:
    held: dict[str, Any] = paused.held_back
    actor: Actor = held["actor"]
    with transaction.atomic():
        brake = _locked_brake(held["organization_id"])
        Deprovisioning.objects.create(
            organization_id=held["organization_id"],
            created_at=held["at"],
            kind=held["kind"],
            held_back=True,
            member_scim_id=held["member_scim_id"],
            member_label=held["member_label"][:255],
            token=actor.token,
            token_label=actor.label[:300],
        )
        Deprovisioning.objects.filter(
            organization_id=held["organization_id"],
            held_back=True,
            created_at__lte=held["at"] - Deprovisioning.KEEP,
        ).delete()
        if brake.is_tripped:
            return
        brake.tripped_at = held["at"]
        brake.save(update_fields=["tripped_at"])
        organization = brake.organization
        record_event(
            organization,
            actor=actor,
            action="deprovisioning.tripped",
            target=brake,
            changes={
                "count": held["count"],
                "active_at_start": held["active_at_start"],
                "share_percent": brake.share_percent,
                "minimum": brake.minimum,
            },
        )
        transaction.on_commit(lambda: _warn_administrators(organization, brake))


def resume_deprovisioning(
    organization: Organization, *, actor: Actor | User
) -> DeprovisioningBrake:
    """Clear a trip and start a fresh window (an owner, after reviewing what was held
    back). Nothing is replayed: the identity provider retries on its next cycle."""
    actor = as_actor(actor)
    with transaction.atomic():
        _require_owner_of(organization, actor, "resume deprovisioning")
        brake = _locked_brake(organization.pk)
        if not brake.is_tripped:
            return brake
        at = timezone.now()
        held_back = (
            Deprovisioning.objects.for_organization(organization)
            .held_back()
            .filter(created_at__gte=brake.tripped_at)
            .count()
        )
        tripped_at = brake.tripped_at
        brake.tripped_at = None
        brake.window_started_at = at
        brake.save(update_fields=["tripped_at", "window_started_at"])
        record_event(
            organization,
            actor=actor,
            action="deprovisioning.resumed",
            target=brake,
            changes={"tripped_at": tripped_at.isoformat(), "held_back": held_back},
        )
    return brake


def update_deprovisioning_brake(
    organization: Organization,
    *,
    share_percent: int,
    minimum: int,
    actor: Actor | User,
) -> DeprovisioningBrake:
    """Change the organization's threshold (an owner). A threshold that leaves room
    for the next request in the current window clears a trip; the window goes on."""
    actor = as_actor(actor)
    if not 1 <= share_percent <= 100:
        raise InvalidValue(
            "The share is a percentage from 1 to 100.", field="share_percent"
        )
    if minimum < 1:
        raise InvalidValue("The minimum is at least 1.", field="minimum")
    with transaction.atomic():
        _require_owner_of(organization, actor, "change the deprovisioning brake")
        brake = _locked_brake(organization.pk)
        changes = _assign_changes(
            brake, {"share_percent": share_percent, "minimum": minimum}
        )
        if not changes:
            return brake
        fields = ["share_percent", "minimum"]
        if brake.is_tripped:
            count, active_at_start = window_counts(brake, timezone.now())
            if not brake.trips_at(count + 1, active_at_start):
                changes["tripped_at"] = {
                    "from": brake.tripped_at.isoformat(),
                    "to": None,
                }
                brake.tripped_at = None
                fields.append("tripped_at")
        brake.save(update_fields=fields)
        record_event(
            organization,
            actor=actor,
            action="deprovisioning.brake_changed",
            target=brake,
            changes=changes,
        )
    return brake


def _locked_brake(organization_id: int) -> DeprovisioningBrake:
    """The organization's brake row, locked until the transaction ends; created
    with the defaults on first use (get_or_create retries the read when a parallel
    request created it first)."""
    brake, _ = DeprovisioningBrake.objects.select_for_update().get_or_create(
        organization_id=organization_id
    )
    return brake


def _require_owner_of(organization: Organization, actor: Actor, what: str) -> None:
    """People must be an active owner; operators and the system may; SCIM never."""
    if actor.type == AuditEvent.ActorType.SCIM_TOKEN:
        raise NotPermitted(f"The identity provider cannot {what}.")
    if actor.type != AuditEvent.ActorType.USER:
        return
    is_owner = (
        Member.objects.for_organization(organization)
        .active()
        .filter(user=actor.user, role=Member.Role.OWNER)
        .exists()
    )
    if not is_owner:
        raise NotPermitted(f"Only an owner can {what}.")


def _paused_message(
    brake: DeprovisioningBrake, count: int, active_at_start: int
) -> str:
    return (
        "Deprovisioning is paused for this organization: the identity provider "
        f"took access away from {count} of {active_at_start} active members in the "
        f"last hour, and the brake allows no more than {brake.share_percent}% "
        f"(below {brake.minimum} it never trips). Nothing of this request was "
        "applied. An owner must review and press Resume in orgadmin (Access "
        "Security > SCIM); retry after that."
    )


def _warn_administrators(
    organization: Organization, brake: DeprovisioningBrake
) -> bool:
    """Email the organization's active owners and admins; False when sending failed."""
    recipients = _administrator_emails(organization)
    return _send_templated_mail(
        "deprovisioning_paused",
        {"organization": organization, "brake": brake},
        recipients,
    )
