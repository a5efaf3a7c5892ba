"""The per-organization SAML configuration, its metadata and its certificates."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict, Unpack

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.utils import is_mfa_enabled
from django.db import transaction
from django.utils import timezone

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._mail import _administrator_emails, _send_templated_mail
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import InvalidValue, NotPermitted
from orgadmin.models import AuditEvent, Member, Organization, SSOConfiguration, User
from orgadmin.saml_metadata import (
    MetadataError,
    as_pem,
    fetch_metadata,
    fingerprint_of,
    parse_certificates,
    parse_metadata,
)


class SSOChanges(TypedDict, total=False):
    """The settings an update may change; a setting left out is unchanged.

    `idp_metadata_xml` (pasted or uploaded) and a new `idp_metadata_url` (read at once)
    fill the entity ID, sign-in URL and certificates from the metadata.
    """

    idp_entity_id: str
    idp_sso_url: str
    idp_x509_certificates: str
    idp_metadata_url: str
    idp_metadata_xml: str
    enabled: bool
    require_sso: bool
    jit_provisioning: bool
    default_role: str
    allow_idp_initiated: bool


SSO_SETTINGS = tuple(SSOChanges.__annotations__)


def update_sso_configuration(
    organization: Organization,
    *,
    actor: Actor | User,
    fetch_metadata_url: bool = False,
    **changes: Unpack[SSOChanges],
) -> SSOConfiguration:
    """Change the SAML settings in one event; nothing is recorded when nothing changed.

    Pasted metadata XML fills the IdP fields; with `fetch_metadata_url`, so does a new
    metadata URL, read at once (the SSO tab's Save). Certificates are recorded by
    fingerprint, metadata XML as "changed". Turning
    Require SSO on as a person needs their second factor (their way back in) and gives
    them recovery codes (allauth's, shown on its recovery codes page).
    """
    actor = as_actor(actor)
    unknown = set(changes) - set(SSO_SETTINGS)
    if unknown:
        raise TypeError(f"Not SSO settings: {', '.join(sorted(unknown))}.")
    if changes.get("default_role") == Member.Role.OWNER:
        raise InvalidValue("SSO cannot make people owners.", field="default_role")
    current = SSOConfiguration.objects.filter(organization=organization).first()
    filled, fetched = _from_metadata(current, changes, fetch=fetch_metadata_url)
    changes.update(filled)
    if "idp_x509_certificates" in changes:
        changes["idp_x509_certificates"] = _normalised_certificates(
            changes["idp_x509_certificates"]
        )
    with transaction.atomic():
        configuration, _ = SSOConfiguration.objects.select_for_update().get_or_create(
            organization=organization
        )
        before = configuration.idp_x509_certificates
        changed = _assign_changes(configuration, dict(changes))
        if "idp_x509_certificates" in changed:
            changed["idp_x509_certificates"] = _certificate_changes(
                before, configuration.idp_x509_certificates
            )
        if "idp_metadata_xml" in changed:
            changed["idp_metadata_xml"] = "changed"
        if configuration.require_sso and not configuration.enabled:
            raise InvalidValue("Allow sign-in with SSO first.", field="require_sso")
        if changed.get("require_sso", {}).get("to") is True:
            _keep_a_way_back_in(actor)
        if fetched:
            configuration.metadata_fetched_at = timezone.now()
            configuration.metadata_error = ""
        if changed or fetched:
            configuration.updated_at = timezone.now()
            configuration.save()
        if changed:
            record_event(
                organization,
                actor=actor,
                action="sso.updated",
                target=configuration,
                changes=changed,
            )
    return configuration


def refresh_sso_metadata(
    configuration: SSOConfiguration, *, actor: Actor | User
) -> SSOConfiguration:
    """Read the metadata URL again; the IdP's next certificate comes in by itself.

    A failed read changes nothing but `metadata_error` and raises InvalidValue.
    """
    actor = as_actor(actor)
    url = configuration.idp_metadata_url
    if not url:
        raise InvalidValue("No metadata URL is configured.", field="idp_metadata_url")
    try:
        idp = fetch_metadata(url)
    except MetadataError as error:
        SSOConfiguration.objects.filter(pk=configuration.pk).update(
            metadata_error=str(error)
        )
        configuration.metadata_error = str(error)
        raise InvalidValue(str(error), field="idp_metadata_url") from None
    with transaction.atomic():
        locked = SSOConfiguration.objects.select_for_update().get(pk=configuration.pk)
        before = locked.idp_x509_certificates
        changed = _assign_changes(
            locked,
            {
                "idp_entity_id": idp.entity_id,
                "idp_sso_url": idp.sso_url,
                "idp_x509_certificates": _normalised_certificates(
                    idp.certificates, drop_expired=True
                ),
            },
        )
        if "idp_x509_certificates" in changed:
            changed["idp_x509_certificates"] = _certificate_changes(
                before, locked.idp_x509_certificates
            )
        locked.metadata_fetched_at = timezone.now()
        locked.metadata_error = ""
        if changed:
            locked.updated_at = locked.metadata_fetched_at
            record_event(
                locked.organization,
                actor=actor,
                action="sso.metadata_refreshed",
                target=locked,
                changes=changed,
            )
        locked.save()
    return locked


def warn_of_expiring_sso_certificates(
    *, now: datetime | None = None
) -> list[tuple[SSOConfiguration, str, int]]:
    """Email owners and admins 30 and 7 days before an IdP certificate expires, once
    per certificate and threshold; returns (configuration, fingerprint, days) sent."""
    now = now or timezone.now()
    sent = []
    configurations = SSOConfiguration.objects.exclude(
        idp_x509_certificates=""
    ).select_related("organization")
    for configuration in configurations:
        for certificate in parse_certificates(configuration.idp_x509_certificates):
            left = certificate.not_valid_after_utc - now
            fingerprint = fingerprint_of(certificate)
            for days in sorted(SSOConfiguration.CERTIFICATE_WARNING_DAYS):
                if timedelta(0) < left <= timedelta(days=days):
                    if _warn_once(configuration, certificate, fingerprint, days):
                        sent.append((configuration, fingerprint, days))
                    break
    return sent


def _warn_once(configuration, certificate, fingerprint: str, days: int) -> bool:
    with transaction.atomic():
        locked = SSOConfiguration.objects.select_for_update().get(pk=configuration.pk)
        warned = dict(locked.certificate_warnings_sent)
        if days in warned.get(fingerprint, []):
            return False
        warned[fingerprint] = sorted({*warned.get(fingerprint, []), days})
        locked.certificate_warnings_sent = warned
        locked.save(update_fields=["certificate_warnings_sent"])
        organization = locked.organization
        recipients = _administrator_emails(organization)
        record_event(
            organization,
            actor=Actor.system(),
            action="sso.certificate_expiring",
            target=locked,
            changes={
                "fingerprint": fingerprint,
                "expires": certificate.not_valid_after_utc.isoformat(),
                "days": days,
            },
        )
        context = {
            "organization": organization,
            "certificate": certificate,
            "fingerprint": fingerprint,
            "days": days,
            "has_metadata_url": bool(locked.idp_metadata_url),
        }
        transaction.on_commit(
            lambda: _send_templated_mail(
                "sso_certificate_expiring", context, recipients
            )
        )
    return True


def _keep_a_way_back_in(actor: Actor) -> None:
    if actor.type != AuditEvent.ActorType.USER or actor.user is None:
        return
    if not is_mfa_enabled(actor.user, [Authenticator.Type.TOTP]):
        raise NotPermitted(
            "Set up an authenticator app first (Account › Two-factor): with Require "
            "SSO on, owners and admins sign in with a password only together with a "
            "second factor, so that a broken IdP cannot lock you out.",
            field="require_sso",
        )
    RecoveryCodes.activate(actor.user)


def _from_metadata(
    current: SSOConfiguration | None, changes: SSOChanges, *, fetch: bool
) -> tuple[dict[str, str], bool]:
    """The IdP fields read from pasted metadata XML or from a new metadata URL."""
    xml = changes.get("idp_metadata_xml")
    field = "idp_metadata_xml"
    try:
        if xml and xml != (current.idp_metadata_xml if current else ""):
            idp = parse_metadata(xml)
            fetched = False
        elif (
            fetch
            and changes.get("idp_metadata_url")
            and changes["idp_metadata_url"]
            != (current.idp_metadata_url if current else "")
        ):
            field = "idp_metadata_url"
            idp = fetch_metadata(changes["idp_metadata_url"])
            fetched = True
        else:
            return {}, False
    except MetadataError as error:
        raise InvalidValue(str(error), field=field) from None
    filled = {
        "idp_entity_id": idp.entity_id,
        "idp_sso_url": idp.sso_url,
        "idp_x509_certificates": idp.certificates,
    }
    return filled, fetched


def _normalised_certificates(pem: str, *, drop_expired: bool = False) -> str:
    """PEM of the distinct certificates; an expired one is refused (or, from refreshed
    metadata that still lists it, dropped)."""
    try:
        certificates = parse_certificates(pem)
    except MetadataError as error:
        raise InvalidValue(str(error), field="idp_x509_certificates") from None
    now = timezone.now()
    expired = [c for c in certificates if c.not_valid_after_utc <= now]
    if expired and not drop_expired:
        raise InvalidValue(
            f"This certificate expired on {expired[0].not_valid_after_utc:%d %B %Y}; "
            "download the current one from your identity provider.",
            field="idp_x509_certificates",
        )
    certificates = [c for c in certificates if c not in expired]
    unique = list({fingerprint_of(c): c for c in certificates}.values())
    if len(unique) > SSOConfiguration.MAX_CERTIFICATES:
        raise InvalidValue(
            f"Keep at most {SSOConfiguration.MAX_CERTIFICATES} certificates: remove "
            "the expired ones.",
            field="idp_x509_certificates",
        )
    return as_pem(unique)


def _certificate_changes(before: str, after: str) -> dict[str, list[str]]:
    old = {fingerprint_of(c) for c in parse_certificates(before)}
    new = {fingerprint_of(c) for c in parse_certificates(after)}
    return {"added": sorted(new - old), "removed": sorted(old - new)}
