"""The audit log in words: one sentence per event, and what changed, for the UI.

The one place that knows how an event reads. ACTIONS maps each action code to its name
(the filter) and its sentence template; FIELD_LABELS and VALUE_LABELS name fields and
coded values. The CSV export keeps the codes and the JSON (orgadmin.exports).

A template reads {actor} and {target}, and for each key of the event's changes {key}
(a plain value, or the new value of a change), {key_from} and {key_to}. A key missing
from the changes reads as an empty string.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orgadmin.models import AuditEvent, ClaimedDomain, Member, SSOAttempt

# action: (name in the filter, sentence). A variant "action:variant" is picked by
# _variant() when one event code reads differently by its changes.
ACTIONS: dict[str, tuple[str, str]] = {
    "organization.created": ("Organization created", "{actor} created {target}"),
    "organization.updated": (
        "Organization settings changed",
        "{actor} changed the organization's settings",
    ),
    "member.added": ("Member invited", "{actor} invited {email} as {role}"),
    "member.added:linked": ("Member invited", "{actor} added {email} as {role}"),
    "member.provisioned": (
        "Member provisioned (SCIM)",
        "{actor} provisioned {target}",
    ),
    "member.updated": ("Member profile changed", "{actor} updated {target}'s profile"),
    "member.deactivated": ("Member deactivated", "{actor} deactivated {target}"),
    "member.reactivated": ("Member reactivated", "{actor} reactivated {target}"),
    "member.role_changed": (
        "Member role changed",
        "{actor} changed {target}'s role from {role_from} to {role_to}",
    ),
    "member.removed": ("Member removed", "{actor} removed {target}"),
    "member.restored": ("Member restored", "{actor} restored {target}"),
    "member.purged": (
        "Removed member deleted for good",
        "{actor} deleted the removed member {target} for good",
    ),
    "member.account_linked": (
        "Account linked",
        "{target} was linked to the account {account}",
    ),
    "member.invitation_resent": (
        "Invitation resent",
        "{actor} resent the invitation of {target}",
    ),
    "member.invitation_revoked": (
        "Invitation revoked",
        "{actor} revoked the invitation of {target}",
    ),
    "team.created": ("Team created", "{actor} created the team {target}"),
    "team.updated": ("Team changed", "{actor} changed the team {target}"),
    "team.deleted": ("Team deleted", "{actor} deleted the team {target}"),
    "team.adopted": (
        "Team handed to SCIM",
        "{actor} let SCIM manage the team {target}",
    ),
    "team.linked": (
        "Team linked to an IdP group",
        "{actor} linked its group to the team {target}",
    ),
    "domain.claimed": ("Domain claimed", "{actor} claimed {target}"),
    "domain.verified": ("Domain verified", "{target} was verified: {reason}"),
    "domain.verified:override": (
        "Domain verified",
        "{actor} marked {target} verified (operator override)",
    ),
    "domain.verified:by_dns": (
        "Domain verified",
        "{target} is now verified by its DNS record, no longer by operator override",
    ),
    "domain.failing": (
        "Domain failing verification",
        "{target} is failing verification: {reason}",
    ),
    "domain.unverified": ("Domain unverified", "{target} was unverified: {reason}"),
    "domain.expired": (
        "Domain claim expired",
        "The claim on {target} expired: {reason}",
    ),
    "domain.taken": ("Domain taken", "The claim on {target} was lost: {reason}"),
    "domain.released": ("Domain released", "{actor} released {target}"),
    "scim_token.issued": ("SCIM token generated", "{actor} generated {target}"),
    "scim_token.revoked": ("SCIM token revoked", "{actor} revoked {target}"),
    "deprovisioning.tripped": (
        "Deprovisioning paused",
        "The deprovisioning brake tripped: {actor} took access away from {count} of "
        "{active_at_start} active members within an hour",
    ),
    "deprovisioning.resumed": (
        "Deprovisioning resumed",
        "{actor} resumed deprovisioning ({held_back} requests had been held back)",
    ),
    "deprovisioning.brake_changed": (
        "Deprovisioning brake changed",
        "{actor} changed the deprovisioning brake",
    ),
    "sso.updated": ("SSO settings changed", "{actor} changed the SSO settings"),
    "sso.metadata_refreshed": (
        "IdP metadata read again",
        "{actor} read the IdP metadata again",
    ),
    "sso.certificate_expiring": (
        "IdP certificate expiring",
        "An IdP signing certificate expires in {days} days",
    ),
    "sso.signed_in": ("Signed in with SSO", "{email} signed in with SSO"),
    "sso.refused": ("SSO sign-in refused", "An SSO sign-in as {email} was refused"),
    "sso.test_passed": ("SSO test passed", "{actor} tested SSO: it works"),
    "sso.test_failed": ("SSO test failed", "{actor} tested SSO: it failed"),
    "account.created": ("Account created", "{actor} created the account {email}"),
    "account.updated": ("Account changed", "{actor} changed the account {target}"),
    "account.signed_in": ("Signed in", "{actor} signed in"),
    "account.sign_in_failed": (
        "Sign-in failed",
        "A sign-in as {actor} failed: {reason}",
    ),
    "account.password_changed": ("Password changed", "{actor} changed their password"),
    "account.password_changed:operator": (
        "Password changed",
        "{actor} changed the password of {target}",
    ),
    "account.password_reset": (
        "Password reset",
        "{actor} reset their password with an emailed link",
    ),
    "account.second_factor_added": (
        "Second factor added",
        "{actor} added a second factor ({factor})",
    ),
    "account.second_factor_removed": (
        "Second factor removed",
        "{actor} removed a second factor ({factor})",
    ),
    "account.recovery_codes_regenerated": (
        "Recovery codes regenerated",
        "{actor} generated new recovery codes",
    ),
    "account.recovery_code_used": (
        "Recovery code used",
        "{actor} signed in with a recovery code ({left} left)",
    ),
}

FIELD_LABELS = {
    "account": "Account",
    "addresses": "Addresses",
    "allow_idp_initiated": "IdP-initiated sign-in",
    "check": "Check",
    "cost_center": "Cost center",
    "days": "Days left",
    "default_role": "Default role",
    "display_name": "Display name",
    "domain": "Domain",
    "email": "Email",
    "emails": "Emails",
    "employee_number": "Employee number",
    "enabled": "Sign-in with SSO",
    "entitlements": "Entitlements",
    "expires": "Expires",
    "expires_at": "Expires",
    "external_id": "External id",
    "family_name": "Family name",
    "fingerprint": "Fingerprint",
    "formatted_name": "Full name",
    "given_name": "Given name",
    "honorific_prefix": "Honorific prefix",
    "honorific_suffix": "Honorific suffix",
    "idp_entity_id": "IdP entity ID",
    "idp_metadata_url": "IdP metadata URL",
    "idp_metadata_xml": "IdP metadata XML",
    "idp_sso_url": "IdP sign-in URL",
    "idp_x509_certificates": "IdP certificates",
    "invitation_expires_at": "Invitation expires",
    "is_active": "Active",
    "is_staff": "Operator",
    "is_superuser": "Superuser",
    "jit_provisioning": "Just-in-time provisioning",
    "left": "Recovery codes left",
    "manager": "Manager",
    "members_added": "Members added",
    "members_removed": "Members removed",
    "methods": "Signed in with",
    "name": "Name",
    "nick_name": "Nickname",
    "organization_name": "Organization (enterprise)",
    "override": "Operator override",
    "owner": "Owner",
    "phone_numbers": "Phone numbers",
    "prefix": "Token prefix",
    "preferred_language": "Preferred language",
    "proof": "Proof",
    "reason": "Reason",
    "reference": "Reference",
    "require_sso": "Require SSO",
    "restrict_to_claimed_domains": "Only people on verified domains",
    "role": "Role",
    "scim_enabled": "SCIM enabled",
    "scim_id": "SCIM id",
    "slug": "Slug",
    "sso_enabled": "SSO enabled",
    "status": "Status",
    "user_name": "User name",
    "user_type": "User type",
    "x509_certificates": "Certificates",
}

VALUE_LABELS: dict[str, dict[Any, str]] = {
    "role": dict(Member.Role.choices),
    "default_role": dict(Member.Role.choices),
    "status": dict(ClaimedDomain.Status.choices),
    "outcome": dict(SSOAttempt.Outcome.choices),
    "proof": {
        "verified_domain": "an address on a verified domain",
        "password_reset": "a password reset link",
        "invitation": "the invitation link",
        "sso": "a sign-in through the organization's IdP",
    },
}

# Values that mean "not set": a created resource lists only the attributes it has.
EMPTY = (None, "", [], {})
LONG_TEXT = 160
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass(frozen=True)
class Change:
    label: str
    before: str | None  # None: a value set, not a change from one value to another
    after: str


@dataclass(frozen=True)
class EventText:
    event: AuditEvent
    sentence: str
    changes: list[Change]

    @property
    def actor_detail(self) -> str:
        """The actor's full label (a token with its prefix), when the sentence does
        not already say it."""
        label = self.event.actor_label
        return "" if label in self.sentence else label


def action_label(action: str) -> str:
    """The action's name for the filter; an unknown code shows as itself."""
    return ACTIONS.get(action, (action, ""))[0]


def describe(event: AuditEvent) -> EventText:
    changes = event.changes if isinstance(event.changes, dict) else {}
    template = ACTIONS.get(_variant(event, changes)) or ACTIONS.get(event.action)
    if template is None:
        return EventText(
            event, f"{actor_text(event)}: {event.action}", _listed(changes, set())
        )
    # A value the sentence says is not listed again below it.
    said = {name for _, name, _, _ in string.Formatter().parse(template[1]) if name}
    return EventText(event, _fill(template[1], event, changes), _listed(changes, said))


def actor_text(event: AuditEvent) -> str:
    """Who acted, as a sentence names them: a token without its prefix."""
    label = event.actor_label
    if event.actor_type == AuditEvent.ActorType.SCIM_TOKEN and label.endswith(")"):
        return label.rpartition(" (")[0] or label
    return label


def _variant(event: AuditEvent, changes: dict[str, Any]) -> str:
    action = event.action
    if action == "member.added" and "invitation_expires_at" not in changes:
        return f"{action}:linked"
    if action == "domain.verified" and changes.get("override") is True:
        return f"{action}:override"
    if action == "domain.verified" and isinstance(changes.get("override"), dict):
        return f"{action}:by_dns"
    if (
        action == "account.password_changed"
        and event.actor_type == AuditEvent.ActorType.OPERATOR
    ):
        return f"{action}:operator"
    return action


def _fill(template: str, event: AuditEvent, changes: dict[str, Any]) -> str:
    values = {
        "actor": actor_text(event),
        "target": _target_text(event),
    }
    for key, value in changes.items():
        if _is_change(value):
            values[f"{key}_from"] = value_text(key, value["from"])
            values[f"{key}_to"] = value_text(key, value["to"])
            values[key] = values[f"{key}_to"]
        else:
            values[key] = value_text(key, value)
    return string.Formatter().vformat(template, (), _Blank(values)).strip()


def _target_text(event: AuditEvent) -> str:
    label = event.target_label or "—"
    if event.target_type == "scimtoken" and label.endswith(")"):
        return label.rpartition(" (")[0] or label
    return label


def _listed(changes: dict[str, Any], said: set[str]) -> list[Change]:
    """What changed, in words: each from/to pair that differs, and each value set
    that the sentence does not already say."""
    listed = []
    for key, value in changes.items():
        if not _is_change(value) and key in said:
            continue
        label = FIELD_LABELS.get(key) or key.replace("_", " ").capitalize()
        if _is_change(value):
            if value["from"] == value["to"]:
                continue
            listed.append(
                Change(
                    label,
                    value_text(key, value["from"]),
                    value_text(key, value["to"]),
                )
            )
        elif value not in EMPTY:
            listed.append(Change(label, None, value_text(key, value)))
    return listed


def value_text(key: str, value: Any) -> str:
    """A recorded value in words: never a Python repr."""
    labels = VALUE_LABELS.get(key, {})
    if isinstance(value, str | int | bool) and value in labels:
        return labels[value]
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, str):
        if _ISO_DATETIME.match(value):
            return _datetime_text(value)
        return value if len(value) <= LONG_TEXT else value[: LONG_TEXT - 1] + "…"
    if isinstance(value, list):
        return ", ".join(value_text(key, item) for item in value) or "none"
    if isinstance(value, dict):
        return _dict_text(key, value)
    return str(value)


def _dict_text(key: str, value: dict[str, Any]) -> str:
    if value.keys() == {"count"}:
        count = value["count"]
        return f"{count:,} item{'s' if count != 1 else ''}"
    # A SCIM multi-valued item: {"value", "type", "primary"} (emails, phone numbers).
    main = value.get("value") or value.get("formatted") or value.get("display")
    if main is not None:
        notes = [str(value["type"])] if value.get("type") else []
        if value.get("primary"):
            notes.append("primary")
        text = value_text(key, main)
        return f"{text} ({', '.join(notes)})" if notes else text
    if "added" in value or "removed" in value:
        parts = []
        for side in ("added", "removed"):
            if value.get(side):
                parts.append(f"{side} {value_text(key, value[side])}")
        return "; ".join(parts) or "none"
    return "; ".join(
        f"{FIELD_LABELS.get(k) or k.replace('_', ' ')}: {value_text(k, v)}"
        for k, v in value.items()
        if v not in EMPTY
    )


def _datetime_text(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%-d %b %Y, %H:%M} UTC"


def _is_change(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {"from", "to"}


class _Blank(dict):
    """Template values; a key the event does not have reads as an empty string."""

    def __missing__(self, key: str) -> str:
        return ""
