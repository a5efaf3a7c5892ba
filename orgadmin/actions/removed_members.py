"""Removed members: the record remove_member keeps, restoring it, and the daily purge.

A removed member's row is deleted at once, so access ends and no SCIM read, filter,
group or unique constraint sees them any more; the RemovedMember record keeps its
fields (pk and SCIM id included), emails, teams and reports for RemovedMember.KEEP.
Restoring puts them back under the same pk and SCIM id, so the audit log, the
timeline and the identity provider's id all point at the member again.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from orgadmin.actions._rows import _touch
from orgadmin.actions.deprovisioning import _require_owner_of
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import AlreadyExists, NoLongerExists
from orgadmin.models import (
    Member,
    RemovedMember,
    Team,
    TeamMembership,
    User,
)


def keep_removed_member(member: Member, *, actor: Actor) -> RemovedMember:
    """Record what restoring `member` needs, before remove_member deletes it (inside
    its transaction, with the member locked)."""
    return RemovedMember.objects.create(
        organization_id=member.organization_id,
        member_pk=member.pk,
        scim_id=member.scim_id,
        user_name=member.user_name,
        label=member.label[:255],
        removed_by=actor.label[:300],
        snapshot={
            "fields": {
                field.attname: getattr(member, field.attname)
                for field in Member._meta.concrete_fields
            },
            "emails": [email.as_scim() for email in member.email_addresses.all()],
            "team_ids": list(
                TeamMembership.objects.filter(member=member).values_list(
                    "team_id", flat=True
                )
            ),
            "report_ids": list(
                Member.objects.filter(manager=member).values_list("pk", flat=True)
            ),
        },
    )


def restore_member(removed: RemovedMember, *, actor: Actor | User) -> Member:
    """Put a removed member back (an owner): same id and SCIM id, emails, the teams
    that still exist, and the reports that have no other manager since.

    Refused while another member holds the user name, the external id or the
    account: the identity provider may have provisioned the person again.
    """
    # Here, not at the top: orgadmin.actions.members imports this module.
    from orgadmin.actions.members import _insert_emails

    actor = as_actor(actor)
    organization = removed.organization
    with transaction.atomic():
        _require_owner_of(organization, actor, "restore a removed member")
        locked = (
            RemovedMember.objects.select_for_update()
            .restorable()
            .filter(pk=removed.pk)
            .first()
        )
        if locked is None:
            raise NoLongerExists(
                f"{removed.label} was already restored, or removed for good."
            )
        snapshot = locked.snapshot
        member = Member(
            **{
                field.attname: field.to_python(snapshot["fields"][field.attname])
                for field in Member._meta.concrete_fields
                if field.attname in snapshot["fields"]
            }
        )
        _require_free_identity(member)
        if member.manager_id and not _in_organization(member.manager_id, member):
            member.manager_id = None
        _touch(member)
        try:
            member.save(force_insert=True)
        except IntegrityError as error:
            raise AlreadyExists(
                f"Another member now has the user name {member.user_name} or its "
                "external id; rename or remove them first."
            ) from error
        _insert_emails(member, snapshot["emails"])
        teams = list(
            Team.objects.for_organization(organization).filter(
                pk__in=snapshot["team_ids"]
            )
        )
        TeamMembership.objects.bulk_create(
            TeamMembership(team=team, member=member) for team in teams
        )
        now = timezone.now()
        # Their ETags change: a group lists the member again, a report its manager.
        Team.objects.filter(pk__in=[team.pk for team in teams]).update(
            version=F("version") + 1, updated_at=now
        )
        Member.objects.for_organization(organization).filter(
            pk__in=snapshot["report_ids"], manager__isnull=True
        ).update(manager=member, version=F("version") + 1, updated_at=now)
        record_event(
            organization,
            actor=actor,
            action="member.restored",
            target=member,
            changes={
                "user_name": member.user_name,
                "scim_id": str(member.scim_id),
                "teams": sorted(team.display_name for team in teams),
                "removed_at": locked.removed_at.isoformat(),
            },
        )
        locked.delete()
    return member


def purge_removed_members(*, actor: Actor, at=None) -> int:
    """Delete for good the removed members kept longer than RemovedMember.KEEP (the
    daily `manage.py purge_removed_members`); returns how many."""
    with transaction.atomic():
        expired = list(
            RemovedMember.objects.select_for_update()
            .expired(at)
            .select_related("organization")
        )
        for removed in expired:
            record_event(
                removed.organization,
                actor=actor,
                action="member.purged",
                target=removed,
                changes={
                    "user_name": removed.user_name,
                    "scim_id": str(removed.scim_id),
                    "removed_at": removed.removed_at.isoformat(),
                },
            )
        RemovedMember.objects.filter(
            pk__in=[removed.pk for removed in expired]
        ).delete()
    return len(expired)


def _require_free_identity(member: Member) -> None:
    others = Member.objects.filter(organization_id=member.organization_id)
    if others.filter(user_name__iexact=member.user_name).exists():
        raise AlreadyExists(
            f"A member with the user name {member.user_name} exists now (the identity "
            "provider may have provisioned the person again): remove or rename that "
            "member before restoring this one.",
            field="user_name",
        )
    if (
        member.external_id is not None
        and others.filter(external_id=member.external_id).exists()
    ):
        raise AlreadyExists(
            f'A member with the external id "{member.external_id}" exists now: '
            "remove that member before restoring this one.",
            field="external_id",
        )
    if member.user_id is None:
        return
    if not User.objects.filter(pk=member.user_id).exists():
        member.user_id = None
    elif others.filter(user_id=member.user_id).exists():
        raise AlreadyExists(
            f"The account of {member.label} is a member again under another user "
            "name: remove that member before restoring this one.",
            field="user",
        )


def _in_organization(member_pk: int, member: Member) -> bool:
    return Member.objects.filter(
        pk=member_pk, organization_id=member.organization_id
    ).exists()
