"""A member's access timeline: every audit event that changed this person's access.

Read from the audit log in three indexed queries, whatever its size: the member's SSO
attempts, the events whose target is the member or one of those attempts
(audit_org_target_time), and the team events that name the member
(AuditEventSubject, audit_subject_member_time). Each entry reads as the audit log's sentence
(orgadmin.audit_text); a team event says what it did to this person.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from orgadmin import audit_text
from orgadmin.models import AuditEvent, AuditEventSubject, Member, SSOAttempt

# The newest entries shown; the audit log keeps the rest.
TIMELINE_LENGTH = 100

# Events after which the person has less access than before.
LOSSES = frozenset(
    {
        "member.deactivated",
        "member.removed",
        "member.invitation_revoked",
        "account.sign_in_failed",
        "sso.refused",
        "account.second_factor_removed",
    }
)


@dataclass(frozen=True)
class TimelineEntry:
    event: AuditEvent
    sentence: str
    changes: list[audit_text.Change]
    is_loss: bool

    @property
    def actor_detail(self) -> str:
        """The actor's full label (a SCIM token with its prefix) when the sentence
        does not say it all."""
        label = self.event.actor_label
        return "" if label in self.sentence else label


def member_timeline(
    member: Member, *, limit: int = TIMELINE_LENGTH
) -> list[TimelineEntry]:
    """The member's newest `limit` access events, newest first."""
    # Read first, as a list: an IN over a subquery inside the OR below would keep
    # PostgreSQL from reading both branches through the target index.
    attempts = [
        str(pk)
        for pk in SSOAttempt.objects.filter(member=member).values_list("pk", flat=True)
    ]
    targeted = list(
        AuditEvent.objects.filter(organization_id=member.organization_id)
        .filter(
            Q(target_type="member", target_id=str(member.pk))
            | Q(target_type="ssoattempt", target_id__in=attempts)
        )
        .order_by("-created_at", "-pk")[:limit]
    )
    subjects = list(
        AuditEventSubject.objects.filter(
            organization_id=member.organization_id, member=member
        )
        .select_related("event")
        .order_by("-created_at", "-pk")[:limit]
    )
    entries = [_entry(event) for event in targeted]
    entries += [_team_entry(subject, member) for subject in subjects]
    entries.sort(key=lambda entry: (entry.event.created_at, entry.event.pk))
    return entries[::-1][:limit]


def _entry(event: AuditEvent) -> TimelineEntry:
    text = audit_text.describe(event)
    role = event.changes.get("role") if isinstance(event.changes, dict) else None
    demoted = (
        event.action == "member.role_changed"
        and isinstance(role, dict)
        and role.get("to") == Member.Role.MEMBER
    )
    return TimelineEntry(
        event, text.sentence, text.changes, event.action in LOSSES or demoted
    )


def _team_entry(subject: AuditEventSubject, member: Member) -> TimelineEntry:
    event = subject.event
    actor = audit_text.actor_text(event)
    team = event.target_label or "a team"
    if subject.change == AuditEventSubject.Change.JOINED:
        sentence = f"{actor} added {member.label} to the team {team}"
    elif event.action == "team.deleted":
        sentence = f"{actor} deleted the team {team}, which {member.label} was on"
    else:
        sentence = f"{actor} removed {member.label} from the team {team}"
    return TimelineEntry(
        event, sentence, [], subject.change == AuditEventSubject.Change.LEFT
    )
