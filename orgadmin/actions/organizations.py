"""Organizations: creating one with its first owner, and its settings."""

from __future__ import annotations

from typing import Any, TypedDict, Unpack

from django.db import transaction
from django.utils.text import slugify

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._rows import _copy_fields
from orgadmin.actions.members import _add_member
from orgadmin.actions.ownership import _require_owner_of
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import AlreadyExists, InvalidValue
from orgadmin.models import Member, Organization, User


class OrganizationChanges(TypedDict, total=False):
    """The settings an update may change; a setting left out is unchanged."""

    name: str
    restrict_to_claimed_domains: bool
    scim_enabled: bool
    sso_enabled: bool
    require_two_factor: bool


ORGANIZATION_SETTINGS = tuple(OrganizationChanges.__annotations__)


def create_organization(
    *,
    name: str,
    slug: str = "",
    actor: Actor | User,
    owner_email: str | None = None,
    restrict_to_claimed_domains: bool = True,
) -> Organization:
    """Create an organization, and its first owner when an email is given."""
    actor = as_actor(actor)
    name = name.strip()
    if not name:
        raise InvalidValue("An organization needs a name.", field="name")
    slug = slugify(slug or name)
    if not slug:
        raise InvalidValue(
            "Choose a slug of letters, digits and hyphens.", field="slug"
        )
    with transaction.atomic():
        if Organization.objects.filter(slug=slug).exists():
            raise AlreadyExists(f'The slug "{slug}" is already taken.', field="slug")
        organization = Organization.objects.create(
            name=name,
            slug=slug,
            restrict_to_claimed_domains=restrict_to_claimed_domains,
        )
        changes: dict[str, Any] = {"name": name, "slug": slug}
        if owner_email:
            owner = _add_member(
                organization,
                email=owner_email,
                role=Member.Role.OWNER,
                source="invited",
            )
            changes["owner"] = owner.email
        record_event(
            organization,
            actor=actor,
            action="organization.created",
            target=organization,
            changes=changes,
        )
    return organization


def update_organization(
    organization: Organization,
    *,
    actor: Actor | User,
    **changes: Unpack[OrganizationChanges],
) -> Organization:
    """Change settings in one event; nothing is recorded when nothing changed."""
    actor = as_actor(actor)
    unknown = set(changes) - set(ORGANIZATION_SETTINGS)
    if unknown:
        raise TypeError(f"Not organization settings: {', '.join(sorted(unknown))}.")
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise InvalidValue("An organization needs a name.", field="name")
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        changed = _assign_changes(locked, dict(changes))
        if "require_two_factor" in changed:
            _require_owner_of(
                locked,
                actor,
                "require two-factor authentication",
                field="require_two_factor",
            )
        if changed:
            locked.save(update_fields=list(changed))
            record_event(
                locked,
                actor=actor,
                action="organization.updated",
                target=locked,
                changes=changed,
            )
    _copy_fields(locked, organization)
    return organization
