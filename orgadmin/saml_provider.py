"""allauth's SAML provider, with the SP URLs of orgadmin.saml (from ORGADMIN_BASE_URL)."""

from __future__ import annotations

from allauth.socialaccount.providers.saml.provider import SAMLProvider
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from orgadmin import saml


class OrganizationSAMLProvider(SAMLProvider):
    """One organization's IdP; its app comes from orgadmin.saml_adapter."""

    # allauth mounts a provider's URLs from its package: keep allauth's SAML routes.
    package = "allauth.socialaccount.providers.saml"

    def redirect(
        self, request: HttpRequest, process, next_url=None, data=None, **kwargs
    ):
        """Send the browser to the IdP with an AuthnRequest (HTTP-Redirect).

        `sso_test=True` is Test SSO: it works before SSO is turned on, and its answer
        is shown to the admin instead of signing anyone in.
        """
        configuration = self.app.sso_configuration
        if not kwargs.get("sso_test") and not configuration.signs_in:
            return render(
                request,
                "account/sso_unavailable.html",
                {"organization": configuration.organization},
                status=404,
            )
        path = reverse("saml_login", kwargs={"organization_slug": self.app.client_id})
        auth = saml.build_auth(request, configuration, path)
        # RelayState stays empty: the state stashed below carries where to go next.
        location = auth.login(return_to="")
        self.stash_redirect_state(
            request,
            process,
            next_url,
            data,
            state_id=auth.get_last_request_id(),
            **kwargs,
        )
        return HttpResponseRedirect(location)
