"""The per-organization SAML configuration."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from orgadmin.actions._audit import _assign_changes
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import InvalidValue
from orgadmin.models import Member, Organization, SSOConfiguration, User

SSO_SETTINGS = (
    "idp_entity_id",
    "idp_sso_url",
    "idp_x509_certificates",
    "idp_metadata_url",
    "idp_metadata_xml",
    "enabled",
    "require_sso",
    "jit_provisioning",
    "default_role",
)


def update_sso_configuration(
    organization: Organization, *, actor: Actor | User, **settings: Any
) -> SSOConfiguration:
    actor = as_actor(actor)
    unknown = set(settings) - set(SSO_SETTINGS)
    if unknown:
        raise InvalidValue(f"Unknown SSO settings: {', '.join(sorted(unknown))}.")
    if settings.get("default_role") == Member.Role.OWNER:
        raise InvalidValue("SSO cannot make people owners.", field="default_role")
    with transaction.atomic():
        configuration, _ = SSOConfiguration.objects.select_for_update().get_or_create(
            organization=organization
        )
        changes = _assign_changes(configuration, settings)
        if "idp_x509_certificates" in changes:
            changes["idp_x509_certificates"] = "changed"
        if "idp_metadata_xml" in changes:
            changes["idp_metadata_xml"] = "changed"
        if changes:
            configuration.updated_at = timezone.now()
            configuration.save()
        record_event(
            organization,
            actor=actor,
            action="sso.updated",
            target=configuration,
            changes=changes,
        )
    return configuration
