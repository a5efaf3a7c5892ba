"""SSO sign-in: who an IdP's checked assertion lets in, and the record of every attempt.

orgadmin.saml checks the response itself (signature, issuer, audience, destination,
validity, InResponseTo); these actions decide what a trusted assertion may do:

- the email must be on one of the organization's verified domains (a SAML assertion
  proves an address only there: the linking rule of orgadmin.actions.members);
- an assertion ID is accepted once (SAMLAssertionUse, in the database so that every
  worker sees it), IdP-initiated responses included;
- an IdP-initiated response is accepted only when the admin turned it on;
- an existing member (invited or SCIM-provisioned) is let in and their account
  created or linked, whatever the JIT switch says; an unknown person becomes a member
  only with just-in-time provisioning; a deactivated member never gets in.

Every answer becomes an SSOAttempt with a reference the refused person is shown, and
an audit event.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from allauth.socialaccount.models import SocialAccount
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from orgadmin import saml
from orgadmin.actions.members import _new_member, record_proven_email
from orgadmin.audit import Actor, record_event
from orgadmin.errors import SSOSignInRefused
from orgadmin.models import (
    AuditEvent,
    Member,
    SAMLAssertionUse,
    SSOAttempt,
    SSOConfiguration,
    User,
)


@dataclass
class _Refusal(Exception):
    code: str
    reason: str
    configured: str = ""
    # What the refused person is shown; the admin sees `reason`.
    shown: str = ""


def refuse_sso_attempt(
    configuration: SSOConfiguration,
    *,
    refusal: saml.ResponseRefused,
    test_by: Actor | None = None,
    ip_address: str | None = None,
) -> SSOAttempt:
    """Keep a response orgadmin did not trust, with why; `test_by` for Test SSO."""
    with transaction.atomic():
        return _record_attempt(
            configuration,
            received=refusal.received,
            refusal=_Refusal(refusal.code, refusal.reason, refusal.configured),
            test_by=test_by,
            ip_address=ip_address,
        )


def admit_sso_sign_in(
    configuration: SSOConfiguration,
    *,
    assertion: saml.Assertion,
    test_by: Actor | None = None,
    ip_address: str | None = None,
) -> SSOAttempt:
    """Let the person of a checked assertion in: link or create their account and
    membership, or raise SSOSignInRefused with the kept attempt.

    With `test_by` (Test SSO) nothing but the attempt, the assertion ID and the
    configuration's `tested_at` is written, and the attempt says what a real sign-in
    would have done.
    """
    received = assertion.received
    try:
        with transaction.atomic():
            member = _admit(configuration, assertion, test=test_by is not None)
            attempt = _record_attempt(
                configuration,
                received=received,
                member=member,
                test_by=test_by,
                ip_address=ip_address,
            )
            if test_by is not None:
                configuration.tested_at = attempt.created_at
                configuration.save(update_fields=["tested_at"])
            return attempt
    except _Refusal as refusal:
        with transaction.atomic():
            attempt = _record_attempt(
                configuration,
                received=received,
                refusal=refusal,
                test_by=test_by,
                ip_address=ip_address,
            )
        raise SSOSignInRefused(
            refusal.shown or refusal.reason, attempt=attempt
        ) from None


def _admit(
    configuration: SSOConfiguration, assertion: saml.Assertion, *, test: bool
) -> Member | None:
    organization = configuration.organization
    received = assertion.received
    if not test and not configuration.signs_in:
        raise _Refusal(
            "sso_off",
            "SSO sign-in is not turned on for this organization.",
            shown=f"{organization.name} does not offer SSO sign-in.",
        )
    if assertion.idp_initiated and not configuration.allow_idp_initiated:
        raise _Refusal(
            "idp_initiated_off",
            "The IdP sent a sign-in that was not started here (IdP-initiated, from "
            "its app launcher), and IdP-initiated sign-in is off. Start from "
            "orgadmin's sign-in page, or turn IdP-initiated sign-in on.",
            "IdP-initiated sign-in off",
        )
    _use_assertion_once(configuration, assertion)
    email, _ = received.email
    if not email:
        raise _Refusal(
            "no_email",
            "The assertion carries no email. Send it as the NameID (Entra ID: "
            "user.mail) or as the emailaddress claim.",
            "email from: " + ", ".join([*saml.EMAIL_ATTRIBUTES, "NameID"]),
        )
    domain = email.rpartition("@")[2]
    verified = organization.verified_domain_names()
    if domain not in verified:
        raise _Refusal(
            "domain_not_verified",
            f"{domain} is not one of this organization's verified domains, so its "
            "IdP cannot sign in this address.",
            "verified domains: " + (", ".join(sorted(verified)) or "(none)"),
            shown=f"{email} is not on a domain {organization.name} has verified.",
        )
    member = (
        Member.objects.for_organization(organization)
        .select_related("user")
        .filter(Q(email__iexact=email) | Q(user__email__iexact=email))
        .order_by("-is_active", "pk")
        .first()
    )
    if member is not None and not member.is_active:
        raise _Refusal(
            "member_deactivated",
            f"{email} is a deactivated member of this organization.",
            shown=f"Your membership of {organization.name} is deactivated: ask your "
            "admin.",
        )
    if member is None and not configuration.jit_provisioning:
        raise _Refusal(
            "not_a_member",
            f"{email} is not a member, and just-in-time provisioning is off: invite "
            "them, assign them in the IdP with SCIM, or turn JIT on.",
            "just-in-time provisioning off",
            shown=f"{email} is not a member of {organization.name} yet: ask your "
            "admin to add you.",
        )
    user = member.user if member is not None and member.user else None
    if user is None:
        user = User.objects.filter(email__iexact=email).first()
    if user is not None and not user.is_active:
        raise _Refusal(
            "account_disabled",
            f"The account {user.email} is disabled by an operator.",
            shown="Your account is disabled.",
        )
    account = _saml_account(configuration, assertion)
    if account is not None and (user is None or account.user_id != user.pk):
        raise _Refusal(
            "linked_elsewhere",
            f"The IdP's NameID {received.name_id} is linked to the account "
            f"{account.user.email}, not to {email}.",
            f"linked account {account.user.email}",
        )
    if test:
        return member
    if user is None:
        user = User.objects.create_user(
            email=email,
            password=None,
            full_name=" ".join(
                part
                for part in (
                    received.first(saml.GIVEN_NAME_ATTRIBUTES),
                    received.first(saml.FAMILY_NAME_ATTRIBUTES),
                )
                if part
            ),
        )
    actor = Actor.for_user(user)
    # Proves the address and links the person's unlinked (invited, SCIM) member.
    record_proven_email(user, email=email, proof="sso", actor=actor)
    if member is None:
        member = _new_member(
            organization,
            email=email,
            role=configuration.default_role,
            source=Member.Source.SSO,
            user=user,
        )
    else:
        member.refresh_from_db()
    if account is None:
        SocialAccount.objects.create(
            user=user,
            provider=saml.provider_id_for(organization),
            uid=received.name_id,
            extra_data=received.attributes,
        )
    return member


def _use_assertion_once(
    configuration: SSOConfiguration, assertion: saml.Assertion
) -> None:
    now = timezone.now()
    organization = configuration.organization
    SAMLAssertionUse.objects.filter(
        organization=organization, expires_at__lt=now
    ).delete()
    try:
        with transaction.atomic():
            SAMLAssertionUse.objects.create(
                organization=organization,
                assertion_id=assertion.assertion_id,
                expires_at=assertion.expires_at,
            )
    except IntegrityError:
        raise _Refusal(
            "replayed",
            f"The assertion {assertion.assertion_id} was already used: a response "
            "is accepted once (this one was sent again, perhaps by someone who "
            "copied it).",
        ) from None


def _saml_account(
    configuration: SSOConfiguration, assertion: saml.Assertion
) -> SocialAccount | None:
    return (
        SocialAccount.objects.select_related("user")
        .filter(
            provider=saml.provider_id_for(configuration.organization),
            uid=assertion.received.name_id,
        )
        .first()
    )


def _record_attempt(
    configuration: SSOConfiguration,
    *,
    received: saml.Received,
    member: Member | None = None,
    refusal: _Refusal | None = None,
    test_by: Actor | None = None,
    ip_address: str | None = None,
) -> SSOAttempt:
    organization = configuration.organization
    email, email_attribute = received.email
    domain = email.rpartition("@")[2] if email else ""
    if test_by is not None:
        outcome = (
            SSOAttempt.Outcome.TEST_FAILED
            if refusal
            else SSOAttempt.Outcome.TEST_PASSED
        )
    else:
        outcome = (
            SSOAttempt.Outcome.REFUSED if refusal else SSOAttempt.Outcome.SIGNED_IN
        )
    attempt = SSOAttempt.objects.create(
        organization=organization,
        reference=_new_reference(),
        outcome=outcome,
        idp_initiated=bool(received.issuer) and not received.in_response_to,
        claimed_email=email[:254],
        name_id=received.name_id[:512],
        name_id_format=received.name_id_format[:256],
        email_attribute=email_attribute,
        matched_domain=(
            domain if domain in organization.verified_domain_names() else ""
        ),
        attributes=received.attributes,
        reason_code=refusal.code if refusal else "",
        reason=refusal.reason if refusal else "",
        configured=refusal.configured if refusal else "",
        received=describe_received(received) if refusal else "",
        member=member if member is not None and member.pk else None,
        ip_address=ip_address,
    )
    _forget_old_attempts(configuration)
    if test_by is not None:
        actor = test_by
    elif member is not None and member.user is not None and not refusal:
        actor = Actor.for_user(member.user, ip_address=ip_address)
    else:
        actor = Actor(
            AuditEvent.ActorType.SYSTEM,
            f"SSO sign-in as {email or 'an unknown person'}",
            ip_address=ip_address,
        )
    changes = {"reference": attempt.reference, "email": email}
    if refusal:
        changes["reason"] = refusal.code
    record_event(
        organization,
        actor=actor,
        action={
            SSOAttempt.Outcome.SIGNED_IN: "sso.signed_in",
            SSOAttempt.Outcome.REFUSED: "sso.refused",
            SSOAttempt.Outcome.TEST_PASSED: "sso.test_passed",
            SSOAttempt.Outcome.TEST_FAILED: "sso.test_failed",
        }[outcome],
        target=attempt,
        changes=changes,
    )
    return attempt


def describe_received(received: saml.Received) -> str:
    """What the response said, one fact a line, for the refused attempt's record."""
    lines = [
        ("Issuer", received.issuer),
        ("Destination", received.destination),
        ("Audience", ", ".join(received.audiences)),
        ("Recipient", ", ".join(received.recipients)),
        ("InResponseTo", received.in_response_to),
        ("Valid from", received.not_before),
        ("Valid until", received.not_on_or_after),
        ("NameID", received.name_id),
        ("Signed by certificate", ", ".join(received.signing_certificates)),
        ("Status", received.status),
    ]
    return "\n".join(f"{name}: {value}" for name, value in lines if value)


def _forget_old_attempts(configuration: SSOConfiguration) -> None:
    kept = SSOAttempt.objects.for_organization(configuration.organization).values_list(
        "pk", flat=True
    )[SSOAttempt.KEEP_PER_ORGANIZATION : SSOAttempt.KEEP_PER_ORGANIZATION + 1]
    oldest_kept = list(kept)
    if oldest_kept:
        SSOAttempt.objects.for_organization(configuration.organization).filter(
            pk__lte=oldest_kept[0]
        ).delete()


def _new_reference() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "SSO-" + "".join(secrets.choice(alphabet) for _ in range(8))
