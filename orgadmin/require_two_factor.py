"""Organizations that require two-factor authentication (Organization.require_two_factor).

A person signed in with a password, in such an organization, without an authenticator
app, is sent to allauth's page that sets one up, with a message, until they do; only
that page, the other two-factor pages, reauthentication and sign-out stay open. A
sign-in through the organization's IdP (SSO) is left alone: its second factor is the
IdP's business.

Decided at sign-in (Django's and allauth's user_logged_in signals, connected from
OrgadminConfig.ready()) and kept in the session, so that a request costs no query
unless the person still has to set up the factor. An owner turning the requirement
on therefore reaches people at their next sign-in.
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from orgadmin.models import Member, User

# The session key that holds the pk of the account that must set up a second factor.
REQUIRED = "orgadmin_two_factor_required"
SET_UP_MESSAGE = (
    "{organizations} requires two-factor authentication: set up an authenticator app "
    "to continue. You can sign out and do it later."
)


class RequireTwoFactorMiddleware:
    """After allauth's AccountMiddleware and the message middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.session.get(REQUIRED) == user.pk
            and not _is_open(request.path)
        ):
            organizations = organizations_requiring_two_factor(user)
            if organizations:
                messages.warning(
                    request,
                    SET_UP_MESSAGE.format(organizations=" and ".join(organizations)),
                )
                return redirect("mfa_activate_totp")
            del request.session[REQUIRED]
        return self.get_response(request)


def connect() -> None:
    """Connect the sign-in receivers (idempotent: each has a dispatch_uid)."""
    user_logged_in.connect(
        signed_in, dispatch_uid="orgadmin.require_two_factor.signed_in"
    )
    account_signals.user_logged_in.connect(
        signed_in_with_allauth,
        dispatch_uid="orgadmin.require_two_factor.signed_in_with_allauth",
    )


def signed_in(sender, request, user, **kwargs) -> None:
    """Every sign-in (allauth's, an invitation's): remember whether to ask."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if organizations_requiring_two_factor(user):
        session[REQUIRED] = user.pk
    else:
        session.pop(REQUIRED, None)


def signed_in_with_allauth(sender, request, user, **kwargs) -> None:
    # Sent after Django's signal; an SSO sign-in is the IdP's business.
    if kwargs.get("sociallogin") is not None:
        request.session.pop(REQUIRED, None)


def organizations_requiring_two_factor(user: User) -> list[str]:
    """The names of the organizations, with the account an active member, that
    require a second factor the account has not set up."""
    names = list(
        Member.objects.filter(
            user=user, is_active=True, organization__require_two_factor=True
        )
        .order_by("organization__name")
        .values_list("organization__name", flat=True)
    )
    if (
        not names
        or Authenticator.objects.filter(
            user=user, type=Authenticator.Type.TOTP
        ).exists()
    ):
        return []
    return names


def _is_open(path: str) -> bool:
    """The pages a person needs to set up the second factor, or to leave."""
    open_prefixes = (
        reverse("mfa_index"),
        reverse("account_logout"),
        reverse("account_reauthenticate"),
        settings.STATIC_URL or "/static/",
    )
    return path.startswith(open_prefixes)
