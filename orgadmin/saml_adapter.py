"""The socialaccount adapter: each organization's SSOConfiguration is its SAML app.

No SocialApp rows are kept by hand: `list_apps` builds them from the configurations
(orgadmin.saml.social_app_for), so the SSO tab, `configure_sso` and the Django admin
all change the one source.
"""

from __future__ import annotations

from allauth.core.exceptions import ImmediateHttpResponse
from django.shortcuts import render

from orgadmin import saml
from orgadmin.allauth_adapters import SocialAccountAdapter
from orgadmin.models import SSOConfiguration


class OrganizationSocialAccountAdapter(SocialAccountAdapter):
    def list_apps(self, request, provider=None, client_id=None):
        if provider not in (None, saml.PROVIDER) and not str(provider).startswith(
            saml.PROVIDER_ID_PREFIX
        ):
            return super().list_apps(request, provider=provider, client_id=client_id)
        configurations = (
            SSOConfiguration.objects.select_related("organization")
            .exclude(idp_entity_id="")
            .exclude(idp_sso_url="")
            .exclude(idp_x509_certificates="")
        )
        if client_id:
            configurations = configurations.filter(organization__slug=client_id)
        if provider and provider != saml.PROVIDER:
            pk = str(provider).removeprefix(saml.PROVIDER_ID_PREFIX)
            if not pk.isdigit():
                return []
            configurations = configurations.filter(organization__pk=int(pk))
        return [saml.social_app_for(c) for c in configurations]

    def pre_social_login(self, request, sociallogin):
        # orgadmin.actions.admit_sso_sign_in links the SAML account before allauth
        # completes the sign-in; an unlinked one here did not come through it.
        provider = sociallogin.account.provider or ""
        if provider.startswith(saml.PROVIDER_ID_PREFIX) and not sociallogin.is_existing:
            raise ImmediateHttpResponse(
                render(request, "account/sso_unavailable.html", status=403)
            )
