"""allauth's and Django's sign-in signals, turned into security events in the audit log.

allauth owns the sign-in, password and second-factor flows; these receivers only
record what happened, through actions.record_security_event. Connected once, from
OrgadminConfig.ready().
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.account.authentication import get_authentication_records
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from orgadmin import actions
from orgadmin.client_ip import client_ip
from orgadmin.models import User

# What an authenticator is called in the audit log.
SECOND_FACTORS = {
    Authenticator.Type.TOTP: "authenticator app",
    Authenticator.Type.RECOVERY_CODES: "recovery codes",
    Authenticator.Type.WEBAUTHN: "security key",
}
# allauth's authentication records, as the sign-in event names them.
SIGN_IN_METHODS = {
    "password": "password",
    "mfa": "second factor",
    "code": "emailed code",
    "password_reset": "password reset link",
}


def connect() -> None:
    """Connect the receivers (idempotent: each has a dispatch_uid)."""
    for signal, receiver in (
        (account_signals.user_logged_in, signed_in),
        (user_login_failed, sign_in_failed),
        (account_signals.password_changed, password_changed),
        (account_signals.password_set, password_changed),
        (account_signals.password_reset, password_reset),
        (mfa_signals.authenticator_added, second_factor_added),
        (mfa_signals.authenticator_removed, second_factor_removed),
        (mfa_signals.authenticator_reset, recovery_codes_regenerated),
        (mfa_signals.authenticator_used, second_factor_used),
        (mfa_signals.authentication_failed, second_factor_refused),
    ):
        signal.connect(
            receiver, dispatch_uid=f"orgadmin.security_events.{receiver.__name__}"
        )


def _record(user: User | None, request: HttpRequest | None, action: str, **kwargs):
    actions.record_security_event(
        user,
        action=action,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.META.get("HTTP_USER_AGENT", "") if request else "",
        **kwargs,
    )


def signed_in(sender, request, user, **kwargs) -> None:
    # An SSO sign-in is recorded by admit_sso_sign_in (sso.signed_in), with its attempt.
    if kwargs.get("sociallogin") is not None:
        return
    methods = []
    for record in get_authentication_records(request, user):
        method = SIGN_IN_METHODS.get(record.get("method"), record.get("method"))
        if method and method not in methods:
            methods.append(method)
    _record(user, request, "account.signed_in", changes={"methods": methods})


def sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    """Django's signal when no backend accepted the credentials (a wrong password)."""
    email = str(credentials.get("email") or credentials.get("username") or "")
    user = User.objects.filter(email__iexact=email.strip()).first() if email else None
    _record(
        user,
        request,
        "account.sign_in_failed",
        email=email,
        changes={"reason": "wrong password"},
    )


def second_factor_refused(sender, request, user, authenticator, **kwargs) -> None:
    _record(
        user,
        request,
        "account.sign_in_failed",
        email=user.email,
        changes={"reason": f"wrong {_factor(authenticator)} code"},
    )


def password_changed(sender, request, user, **kwargs) -> None:
    _record(user, request, "account.password_changed")


def password_reset(sender, request, user, **kwargs) -> None:
    _record(user, request, "account.password_reset")


def second_factor_added(sender, request, user, authenticator, **kwargs) -> None:
    _record(
        user,
        request,
        "account.second_factor_added",
        changes={"factor": _factor(authenticator)},
    )


def second_factor_removed(sender, request, user, authenticator, **kwargs) -> None:
    _record(
        user,
        request,
        "account.second_factor_removed",
        changes={"factor": _factor(authenticator)},
    )


def recovery_codes_regenerated(sender, request, user, authenticator, **kwargs):
    _record(user, request, "account.recovery_codes_regenerated")


def second_factor_used(sender, request, user, authenticator, **kwargs) -> None:
    # A TOTP code is part of the sign-in event; a recovery code is worth its own,
    # as each one works once and the person may need new ones.
    if authenticator.type != Authenticator.Type.RECOVERY_CODES:
        return
    _record(
        user,
        request,
        "account.recovery_code_used",
        # Re-read: allauth marks the code used on its own copy of the row.
        changes={"left": len(_reloaded(authenticator).wrap().get_unused_codes())},
    )


def _reloaded(authenticator: Authenticator) -> Authenticator:
    return Authenticator.objects.filter(pk=authenticator.pk).first() or authenticator


def _factor(authenticator: Authenticator) -> str:
    return SECOND_FACTORS.get(authenticator.type, str(authenticator.type))
