"""Claimed domains: the claim, the DNS check, the cron job, and their emails."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from orgadmin import domains
from orgadmin.actions._mail import _administrator_emails, _send_templated_mail
from orgadmin.actions._rows import _copy_fields, _save_unique
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.dns import check_txt_record
from orgadmin.errors import AlreadyExists, DomainAlreadyClaimed, InvalidValue
from orgadmin.locks import lock_key
from orgadmin.models import CheckOutcome, ClaimedDomain, Organization, User

logger = logging.getLogger(__name__)


def claim_domain(
    organization: Organization,
    *,
    domain: str,
    actor: Actor | User,
    allow_nested: bool = False,
) -> ClaimedDomain:
    """Start a claim: the organization must then publish the TXT record to verify it.

    Refused when another organization verified the domain, a domain it is under or one
    under it (a subdomain belongs to whoever proved they own its parent, and claiming a
    parent would take in their addresses), and once the organization has
    domains.PENDING_CLAIMS_LIMIT pending claims. `allow_nested` is the operator's
    explicit override of the nesting rule (`manage.py claim_domain --allow-nested`);
    the claim keeps it (nesting_allowed), since the rule is applied again when the
    claim is verified.
    """
    actor = as_actor(actor)
    name = domains.normalize_domain(domain)
    with transaction.atomic():
        # Locked so that claims made at the same moment cannot pass the cap together.
        Organization.objects.select_for_update().get(pk=organization.pk)
        existing = ClaimedDomain.objects.filter(
            organization=organization, domain=name
        ).first()
        if existing is not None:
            raise AlreadyExists(
                f"{name} is already claimed by this organization "
                f"({existing.get_status_display().lower()}).",
                field="domain",
            )
        if ClaimedDomain.objects.filter(
            domain=name, status__in=ClaimedDomain.VERIFIED_STATUSES
        ).exists():
            raise DomainAlreadyClaimed(
                f"{name} is verified by another organization.", field="domain"
            )
        changes: dict[str, Any] = {"domain": name}
        nested = _nested_verified_domain(organization, name)
        if allow_nested:
            # Recorded even when nothing nests yet: the claim keeps the override, and
            # it lets the claim verify once another organization verifies a domain
            # above or under it.
            changes["override"] = {"nested": nested}
        elif nested is not None:
            raise DomainAlreadyClaimed(_nesting_sentence(name, nested), field="domain")
        pending = ClaimedDomain.objects.filter(
            organization=organization, status=ClaimedDomain.Status.PENDING
        ).count()
        if pending >= domains.PENDING_CLAIMS_LIMIT:
            raise InvalidValue(
                f"This organization already has {pending} domains waiting for "
                "verification, the most it may have. Verify or remove some of them "
                "before adding another.",
                field="domain",
                code="too_many_pending_claims",
            )
        claimed = ClaimedDomain(
            organization=organization,
            domain=name,
            verification_token=secrets.token_urlsafe(24),
            nesting_allowed=allow_nested,
        )
        _save_unique(claimed, f"{name} is already claimed by this organization.")
        record_event(
            organization,
            actor=actor,
            action="domain.claimed",
            target=claimed,
            changes=changes,
        )
    return claimed


def _nested_verified_domain(organization: Organization, name: str) -> str | None:
    """A domain another organization verified that `name` is under, or that is under
    `name`: the nearest parent first, else the first subdomain by name."""
    parents = domains.parent_domains(name)
    verified = (
        ClaimedDomain.objects.filter(status__in=ClaimedDomain.VERIFIED_STATUSES)
        .exclude(organization=organization)
        .values_list("domain", flat=True)
    )
    found = set(verified.filter(domain__in=parents))
    for parent in parents:
        if parent in found:
            return parent
    return verified.filter(domain__endswith=f".{name}").order_by("domain").first()


def _nesting_sentence(name: str, nested: str) -> str:
    """Why `name` cannot be claimed or verified: it nests with `nested`."""
    if name.endswith(f".{nested}"):
        return f"{name} is under {nested}, which another organization verified."
    return f"{nested}, which another organization verified, is under {name}."


def _nesting_change(name: str, nested: str) -> dict[str, str]:
    """How `name` nests with `nested`, as audit events record it."""
    return {"under" if name.endswith(f".{nested}") else "above": nested}


def _lock_related_domains(name: str) -> None:
    """Make verifications of `name` and of any domain it is under or above wait for
    each other, until the transaction ends (PostgreSQL).

    The same domain is guarded by the unique index claimed_domain_one_verifier; nested
    names have no index to lean on. Row locks cannot stand in: the rival claim is
    still pending until its own transaction commits, so SELECT ... FOR UPDATE on
    verified rows finds nothing to wait for, and locking the related claims whatever
    their status would take other checks' row locks in no fixed order (deadlocks).
    So each verification takes a transaction-level advisory lock on its name and on
    every name it is under, top-down: two nested names always share the higher one's
    lock, and locks taken in one top-down order cannot deadlock. Public suffixes
    (co.uk) are left out: no claim is ever one, so two nested claims never share only
    that, and every verification under .co.uk would wait on it. Siblings
    (eu.acme.example, us.acme.example) wait on acme.example too, only for the
    milliseconds a verification's transaction lasts; DNS is asked before it starts.
    SQLite runs one write transaction at a time and needs none of this.
    """
    if connection.vendor != "postgresql":
        return
    names = [
        related
        for related in [*reversed(domains.parent_domains(name)), name]
        if not domains.is_public_suffix(related)
    ]
    with connection.cursor() as cursor:
        for related in names:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [lock_key(f"domain:{related}")]
            )


def mark_domain_verified(
    claimed: ClaimedDomain, *, actor: Actor | User, allow_nested: bool = False
) -> ClaimedDomain:
    """Verify a claim without DNS: the operator override.

    Works on a failing domain too (its failing period ends). A domain verified by
    override stays verified when its record is missing (the operator vouched for it),
    and becomes an ordinary DNS verification once a check finds the record. Other
    organizations' pending claims on the domain become taken, each with its own
    domain.taken event in that organization's log.

    Refused when another organization verified a domain this one is under or above,
    unless the claim was made with the nesting override or `allow_nested` gives it
    now (the claim then keeps it).
    """
    actor = as_actor(actor)
    with transaction.atomic():
        locked = _lock_claim(claimed)
        if locked.status == ClaimedDomain.Status.VERIFIED:
            raise InvalidValue(f"{locked.domain} is already verified.")
        _lock_related_domains(locked.domain)
        other = _other_verifier(locked)
        if other is not None:
            raise DomainAlreadyClaimed(
                f"{locked.domain} is verified by {other.organization}; release it there first."
            )
        nested = _nested_verified_domain(locked.organization, locked.domain)
        if nested is not None and not (allow_nested or locked.nesting_allowed):
            raise DomainAlreadyClaimed(
                f"{_nesting_sentence(locked.domain, nested)} Verifying it needs the "
                "operator's override of the nesting rule (claim_domain --allow-nested)."
            )
        allowing = allow_nested and not locked.nesting_allowed
        locked.nesting_allowed = locked.nesting_allowed or allow_nested
        if not _save_verified(
            locked,
            now=timezone.now(),
            actor=actor,
            override=True,
            nested=nested,
            allowing_nesting=allowing,
        ):
            raise DomainAlreadyClaimed(
                f"{locked.domain} is verified by another organization."
            )
    _copy_fields(locked, claimed)
    return claimed


def check_domain(
    claimed: ClaimedDomain, *, actor: Actor | User, now: datetime | None = None
) -> ClaimedDomain:
    """Look the domain's TXT record up now, keep the outcome and apply it to the status.

    - Record found: a pending, expired or taken claim becomes verified, unless another
      organization holds the domain, or a domain it is under or above and the claim
      was made without the operator's nesting override (then it is taken, and
      last_check_detail says which); a failing domain is verified again and its
      failing period ends.
    - Record missing or a different value: a verified domain becomes failing and its
      owners and admins are emailed once; a failing domain is unverified (expired) once
      FAILING_GRACE_PERIOD has passed since failing_since; other claims keep their status.
    - Try later (timeout, SERVFAIL): the status never changes.
    - A domain verified by operator override is re-checked too, but a missing record
      leaves it verified; a found record turns it into a DNS verification.

    Each change of status records one audit event (domain.verified, domain.taken,
    domain.failing, domain.unverified), plus one domain.taken for each other
    organization's pending claim that loses the domain. A check that changes no status
    records no event: its outcome is kept on the claim (last_check_*).
    """
    actor = as_actor(actor)
    now = now or timezone.now()
    # DNS is asked outside the transaction: no row stays locked while waiting for it.
    result = check_txt_record(
        claimed.record_host, claimed.record_value, prefix=ClaimedDomain.RECORD_PREFIX
    )
    with transaction.atomic():
        locked = _lock_claim(claimed)
        previous = locked.status
        warned = locked.owners_warned_at is not None
        locked.last_checked_at = now
        locked.last_check_outcome = result.outcome
        locked.last_check_detail = result.detail
        _apply_check(locked, result.outcome, actor=actor, now=now)
    _warn_about_failing_domain(locked, now=now)
    if (
        warned
        and previous == ClaimedDomain.Status.FAILING
        and locked.status != previous
    ):
        _tell_about_ended_failure(locked)
    _copy_fields(locked, claimed)
    return claimed


def expire_domain(
    claimed: ClaimedDomain, *, actor: Actor | User, now: datetime | None = None
) -> ClaimedDomain:
    """End a pending claim whose PENDING_PERIOD has passed without its record."""
    actor = as_actor(actor)
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_claim(claimed)
        if locked.pending_until is None or now < locked.pending_until:
            raise InvalidValue(f"The claim on {locked.domain} is not due to expire.")
        _change_status(
            locked,
            ClaimedDomain.Status.EXPIRED,
            action="domain.expired",
            actor=actor,
            reason=f"not verified within {ClaimedDomain.PENDING_PERIOD.days} days",
        )
    _copy_fields(locked, claimed)
    return claimed


def recheck_domains(
    *, actor: Actor | User, now: datetime | None = None, limit: int | None = None
) -> list[tuple[ClaimedDomain, str]]:
    """The cron job: expire overdue pending claims and check every other live claim.

    Pending, verified and failing claims are visited, least recently checked first;
    expired and taken ones are left to "Check now". With `limit`, at most that many
    are visited, so a run stays bounded whatever the number of claims, and the next
    run goes on with those checked longest ago. Returns each visited claim with its
    status before the visit.
    """
    actor = as_actor(actor)
    now = now or timezone.now()
    live = [
        ClaimedDomain.Status.PENDING,
        ClaimedDomain.Status.VERIFIED,
        ClaimedDomain.Status.FAILING,
    ]
    ids = list(
        ClaimedDomain.objects.filter(status__in=live)
        .order_by(F("last_checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:limit]
    )
    visited = []
    for pk in ids:
        # Fetched one by one: an earlier verification may have taken this claim.
        claimed = (
            ClaimedDomain.objects.select_related("organization")
            .filter(pk=pk, status__in=live)
            .first()
        )
        if claimed is None:
            continue
        previous = claimed.status
        if claimed.pending_until is not None and now >= claimed.pending_until:
            expire_domain(claimed, actor=actor, now=now)
        else:
            check_domain(claimed, actor=actor, now=now)
        visited.append((claimed, previous))
    return visited


def release_domain(claimed: ClaimedDomain, *, actor: Actor | User) -> None:
    """Give a domain up: the claim is deleted, and other organizations may verify it."""
    actor = as_actor(actor)
    with transaction.atomic():
        record_event(
            claimed.organization,
            actor=actor,
            action="domain.released",
            target=claimed,
            changes={"domain": claimed.domain, "status": claimed.status},
        )
        claimed.delete()


def _lock_claim(claimed: ClaimedDomain) -> ClaimedDomain:
    try:
        return (
            ClaimedDomain.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=claimed.pk)
        )
    except ClaimedDomain.DoesNotExist:
        raise InvalidValue(f"{claimed.domain} is no longer claimed.") from None


def _other_verifier(claimed: ClaimedDomain) -> ClaimedDomain | None:
    return (
        ClaimedDomain.objects.filter(
            domain=claimed.domain, status__in=ClaimedDomain.VERIFIED_STATUSES
        )
        .exclude(pk=claimed.pk)
        .select_related("organization")
        .first()
    )


def _apply_check(
    claimed: ClaimedDomain, outcome: str, *, actor: Actor, now: datetime
) -> None:
    """Change the locked claim's status as the check outcome calls for, and save it."""
    status = claimed.status
    Status = ClaimedDomain.Status
    if outcome == CheckOutcome.VERIFIED:
        if status == Status.FAILING:
            claimed.failing_since = None
            claimed.owners_warned_at = None
            _change_status(
                claimed,
                Status.VERIFIED,
                action="domain.verified",
                actor=actor,
                reason="the record is back",
            )
            return
        if status != Status.VERIFIED:
            _lock_related_domains(claimed.domain)
            if _other_verifier(claimed) is not None:
                _mark_taken(claimed, actor=actor)
                return
            nested = _nested_verified_domain(claimed.organization, claimed.domain)
            if nested is not None and not claimed.nesting_allowed:
                claimed.last_check_detail = _nesting_sentence(claimed.domain, nested)
                _mark_taken(claimed, actor=actor, nested=nested)
                return
            if not _save_verified(
                claimed, now=now, actor=actor, override=False, nested=nested
            ):
                _mark_taken(claimed, actor=actor)
            return
        if claimed.verified_by_override:
            claimed.verified_by_override = False
            claimed.save()
            record_event(
                claimed.organization,
                actor=actor,
                action="domain.verified",
                target=claimed,
                changes={
                    "domain": claimed.domain,
                    "override": {"from": True, "to": False},
                    "reason": "the record was found",
                },
            )
            return
    elif outcome in (CheckOutcome.NOT_FOUND, CheckOutcome.MISMATCH):
        if status == Status.VERIFIED and not claimed.verified_by_override:
            claimed.failing_since = now
            claimed.owners_warned_at = None
            _change_status(
                claimed,
                Status.FAILING,
                action="domain.failing",
                actor=actor,
                reason="the verification record is missing",
            )
            return
        if status == Status.FAILING and now >= claimed.unverify_after:
            days = ClaimedDomain.FAILING_GRACE_PERIOD.days
            _change_status(
                claimed,
                Status.EXPIRED,
                action="domain.unverified",
                actor=actor,
                reason=f"the record was missing for {days} days",
            )
            return
    claimed.save(
        update_fields=["last_checked_at", "last_check_outcome", "last_check_detail"]
    )


def _save_verified(
    claimed: ClaimedDomain,
    *,
    now: datetime,
    actor: Actor,
    override: bool,
    nested: str | None = None,
    allowing_nesting: bool = False,
) -> bool:
    """Verify the locked claim; False when another organization's verification won.

    Two organizations may verify at once, each seeing no other verifier; the partial
    unique constraint claimed_domain_one_verifier then refuses the later save.
    `nested` is the other organization's domain this one nests with, verified anyway
    by the nesting override; `allowing_nesting` when this very call gave the override.
    """
    previous = {
        "status": claimed.status,
        "verified_at": claimed.verified_at,
        "failing_since": claimed.failing_since,
        "owners_warned_at": claimed.owners_warned_at,
        "verified_by_override": claimed.verified_by_override,
    }
    claimed.status = ClaimedDomain.Status.VERIFIED
    claimed.verified_at = now
    claimed.verified_by_override = override
    claimed.failing_since = None
    claimed.owners_warned_at = None
    try:
        with transaction.atomic():
            claimed.save()
    except IntegrityError:
        for field, value in previous.items():
            setattr(claimed, field, value)
        return False
    changes: dict[str, Any] = {
        "domain": claimed.domain,
        "status": {"from": previous["status"], "to": claimed.status},
    }
    if override:
        changes["override"] = True
    else:
        changes["reason"] = "the record was found"
    if nested is not None:
        changes["nested"] = _nesting_change(claimed.domain, nested)
    if allowing_nesting:
        changes["nesting_allowed"] = {"from": False, "to": True}
    record_event(
        claimed.organization,
        actor=actor,
        action="domain.verified",
        target=claimed,
        changes=changes,
    )
    _take_other_claims(claimed, actor=actor)
    return True


def _take_other_claims(winner: ClaimedDomain, *, actor: Actor) -> None:
    """Mark other organizations' pending claims on the winner's domain as taken.

    skip_locked: a claim locked right now is being verified by its own check, which the
    unique constraint will refuse and which then marks itself taken. Waiting for it
    instead would deadlock, as that check waits for this transaction.
    """
    losers = (
        ClaimedDomain.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("organization")
        .filter(domain=winner.domain, status=ClaimedDomain.Status.PENDING)
        .exclude(pk=winner.pk)
    )
    for loser in losers:
        _mark_taken(loser, actor=actor)


def _mark_taken(
    claimed: ClaimedDomain, *, actor: Actor, nested: str | None = None
) -> None:
    """Mark the claim taken: another organization verified its domain, or `nested`,
    a domain it is under or above."""
    if claimed.status == ClaimedDomain.Status.TAKEN:
        claimed.save()
        return
    if nested is None:
        _change_status(
            claimed,
            ClaimedDomain.Status.TAKEN,
            action="domain.taken",
            actor=actor,
            reason="another organization verified the domain first",
        )
        return
    nesting = _nesting_change(claimed.domain, nested)
    _change_status(
        claimed,
        ClaimedDomain.Status.TAKEN,
        action="domain.taken",
        actor=actor,
        reason=(
            f"another organization verified {nested}, which this domain is under"
            if "under" in nesting
            else f"another organization verified {nested}, which is under this domain"
        ),
        extra={"nested": nesting},
    )


def _change_status(
    claimed: ClaimedDomain,
    status: str,
    *,
    action: str,
    actor: Actor,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Save the claim in its new status with the one audit event that says why."""
    previous = claimed.status
    claimed.status = status
    claimed.save()
    record_event(
        claimed.organization,
        actor=actor,
        action=action,
        target=claimed,
        changes={
            "domain": claimed.domain,
            "status": {"from": previous, "to": status},
            "reason": reason,
            "check": claimed.last_check_outcome,
            **(extra or {}),
        },
    )


def _warn_about_failing_domain(claimed: ClaimedDomain, *, now: datetime) -> None:
    """Email the owners and admins once per failing period.

    Sent after the status change is committed; a send that fails leaves
    owners_warned_at empty, so the next check tries again.
    """
    if (
        claimed.status != ClaimedDomain.Status.FAILING
        or claimed.owners_warned_at is not None
    ):
        return
    if not _email_administrators(claimed, "domain_failing"):
        return
    ClaimedDomain.objects.filter(pk=claimed.pk, owners_warned_at__isnull=True).update(
        owners_warned_at=now
    )
    claimed.owners_warned_at = now


def _tell_about_ended_failure(claimed: ClaimedDomain) -> None:
    """Tell the administrators who were warned how the failing period ended."""
    template = (
        "domain_unverified"
        if claimed.status == ClaimedDomain.Status.EXPIRED
        else "domain_restored"
    )
    _email_administrators(claimed, template)


def _email_administrators(claimed: ClaimedDomain, template: str) -> bool:
    """Email the organization's active owners and admins; False when sending failed."""
    organization = claimed.organization
    recipients = _administrator_emails(organization)
    return _send_templated_mail(
        template, {"claimed": claimed, "organization": organization}, recipients
    )
