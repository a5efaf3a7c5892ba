"""The URLs of orgadmin that an IT admin pastes into the identity provider.

Each is ORGADMIN_BASE_URL joined to a route, so that what the settings pages show
follows the URLconf.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from orgadmin.models import Organization

# Where orgadmin/urls.py mounts the SCIM app; scim/ builds its resource URLs on it.
SCIM_PATH = "scim/v2"


def public_url(path: str) -> str:
    """An absolute URL for a path from reverse(), which starts with a slash."""
    return f"{settings.ORGADMIN_BASE_URL}{path}"


def scim_tenant_url() -> str:
    """The SCIM base URL, without a trailing slash, as Entra ID and Okta take it."""
    return public_url(f"/{SCIM_PATH}")


@dataclass(frozen=True)
class ServiceProviderUrls:
    entity_id: str
    acs_url: str
    metadata_url: str
    sign_in_url: str


def saml_service_provider_urls(organization: Organization) -> ServiceProviderUrls:
    """The SAML values for the IdP, on django-allauth's per-organization routes."""
    kwargs = {"organization_slug": organization.slug}
    metadata_url = public_url(reverse("saml_metadata", kwargs=kwargs))
    return ServiceProviderUrls(
        # django-allauth uses the metadata URL as the SP entity ID unless the SAML
        # app's settings name another one.
        entity_id=metadata_url,
        acs_url=public_url(reverse("saml_acs", kwargs=kwargs)),
        metadata_url=metadata_url,
        sign_in_url=public_url(reverse("saml_login", kwargs=kwargs)),
    )
