"""The SAML endpoints at django-allauth's routes (/accounts/saml/<slug>/...).

allauth's own ACS view is kept (it parks the cross-site POST in a short session and
redirects); its metadata and finish views are replaced here because they build the
URLs from the request's Host header and explain no refusal, and sign-in by work email
is added.
"""

from __future__ import annotations

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core.internal import httpkit
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.internal import statekit
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml.utils import (
    decode_relay_state,
    get_app_or_404,
)
from allauth.socialaccount.sessions import LoginSession
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from orgadmin import actions, forms, saml
from orgadmin.audit import Actor
from orgadmin.client_ip import client_ip
from orgadmin.errors import SSOSignInRefused


def _provider(request: HttpRequest, organization_slug: str):
    return get_app_or_404(request, organization_slug).get_provider(request)


def metadata(request, organization_slug):
    """The SP metadata: this organization's entity ID and HTTP-POST ACS."""
    configuration = get_app_or_404(request, organization_slug).sso_configuration
    settings = OneLogin_Saml2_Settings(
        saml.saml_settings(configuration), sp_validation_only=True
    )
    return HttpResponse(settings.get_sp_metadata(), content_type="text/xml")


@never_cache
def finish_acs(request, organization_slug):
    """Check the IdP's answer parked by allauth's ACS view, then sign the person in,
    show a Test SSO result, or explain the refusal."""
    provider = _provider(request, organization_slug)
    configuration = provider.app.sso_configuration
    acs_session = LoginSession(request, "saml_acs_session", "saml-acs-session")
    parked = acs_session.store.get("request")
    acs_session.delete()
    if not parked:
        return render(
            request,
            "account/sso_refused.html",
            {"organization": configuration.organization, "expired": True},
            status=400,
        )
    acs_request = httpkit.deserialize_request(parked, HttpRequest())
    received = saml.read_received(acs_request.POST.get("SAMLResponse", ""))
    state = None
    if received.in_response_to:
        state = statekit.unstash_state(
            request, state_id=received.in_response_to, provider_id=provider.sub_id
        )
    test_by = (
        Actor.for_user(request.user, ip_address=client_ip(request))
        if state and state.get("sso_test") and request.user.is_authenticated
        else None
    )
    acs_path = reverse("saml_acs", kwargs={"organization_slug": organization_slug})
    try:
        assertion = saml.validate_response(
            acs_request,
            configuration,
            path=acs_path,
            request_id=received.in_response_to if state else None,
        )
        if received.in_response_to and state is None:
            raise saml.ResponseRefused(
                "wrong_in_response_to",
                "The response answers a sign-in request this browser did not start "
                "(or started more than 10 minutes ago). Sign in again from orgadmin.",
                received=received,
            )
    except saml.ResponseRefused as refusal:
        attempt = actions.refuse_sso_attempt(
            configuration,
            refusal=refusal,
            test_by=test_by,
            ip_address=client_ip(request),
        )
        return _after_refusal(request, configuration, attempt, refusal.shown)
    try:
        attempt = actions.admit_sso_sign_in(
            configuration,
            assertion=assertion,
            test_by=test_by,
            ip_address=client_ip(request),
        )
    except SSOSignInRefused as error:
        return _after_refusal(request, configuration, error.attempt, error.message)
    if attempt.is_test:
        return _to_test_result(configuration, attempt)
    login = provider.sociallogin_from_response(request, assertion.auth)
    if state is not None:
        login.state = state
    else:
        login.state = {"process": AuthProcess.LOGIN}
        next_url = decode_relay_state(acs_request.POST.get("RelayState"))
        if next_url:
            login.state["next"] = next_url
    return complete_social_login(request, login)


def _after_refusal(request, configuration, attempt, message: str):
    if attempt.is_test:
        return _to_test_result(configuration, attempt)
    return render(
        request,
        "account/sso_refused.html",
        {
            "organization": configuration.organization,
            "attempt": attempt,
            "message": message,
        },
        status=403,
    )


def _to_test_result(configuration, attempt):
    url = reverse("orgadmin:sso-settings", args=[configuration.organization.slug])
    return redirect(f"{url}?test={attempt.reference}#sso-test-result")


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_with_sso(request):
    """Ask for the work email, find its organization by verified domain, and send the
    browser to that organization's IdP (SP-initiated)."""
    form = forms.SSOEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        provider = _provider(request, form.cleaned_data["organization"].slug)
        next_url = request.POST.get("next") or ""
        if not get_account_adapter(request).is_safe_url(next_url):
            next_url = None
        return provider.redirect(request, AuthProcess.LOGIN, next_url=next_url)
    return render(
        request,
        "account/sso_sign_in.html",
        {"form": form, "next": request.GET.get("next") or request.POST.get("next", "")},
    )


def test_sso(request, configuration):
    """Start Test SSO for the signed-in admin (called by the SSO tab's view)."""
    provider = _provider(request, configuration.organization.slug)
    return provider.redirect(request, AuthProcess.LOGIN, sso_test=True)
