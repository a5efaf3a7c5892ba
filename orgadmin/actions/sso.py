"""The per-organization SAML configuration."""

from __future__ import annotations

from typing import TypedDict, Unpack

from django.db import transaction
from django.utils import timezone

from orgadmin.actions._audit import _assign_changes
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import InvalidValue
from orgadmin.models import Member, Organization, SSOConfiguration, User


class SSOChanges(TypedDict, total=False):
    """The settings an update may change; a setting left out is unchanged."""

    idp_entity_id: str
    idp_sso_url: str
    idp_x509_certificates: str
    idp_metadata_url: str
    idp_metadata_xml: str
    enabled: bool
    require_sso: bool
    jit_provisioning: bool
    default_role: str


SSO_SETTINGS = tuple(SSOChanges.__annotations__)


def update_sso_configuration(
    organization: Organization,
    *,
    actor: Actor | User,
    **changes: Unpack[SSOChanges],
) -> SSOConfiguration:
    """Change the SAML settings in one event; nothing is recorded when nothing changed.

    Certificates and metadata are recorded as "changed", not by value.
    """
    actor = as_actor(actor)
    unknown = set(changes) - set(SSO_SETTINGS)
    if unknown:
        raise TypeError(f"Not SSO settings: {', '.join(sorted(unknown))}.")
    if changes.get("default_role") == Member.Role.OWNER:
        raise InvalidValue("SSO cannot make people owners.", field="default_role")
    with transaction.atomic():
        configuration, _ = SSOConfiguration.objects.select_for_update().get_or_create(
            organization=organization
        )
        changed = _assign_changes(configuration, dict(changes))
        for long_value in ("idp_x509_certificates", "idp_metadata_xml"):
            if long_value in changed:
                changed[long_value] = "changed"
        if changed:
            configuration.updated_at = timezone.now()
            configuration.save()
            record_event(
                organization,
                actor=actor,
                action="sso.updated",
                target=configuration,
                changes=changed,
            )
    return configuration
