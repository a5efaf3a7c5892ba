"""The URLs the settings pages give for the IdP are the routes that answer them."""

import re

from django.urls import resolve

from orgadmin import actions
from tests import helpers
from tests.helpers import ScimClient

BASE = "https://orgadmin.test"


def copy_box(page: str, testid: str) -> str:
    """The value shown in the copy box (orgadmin/_copy.html) with this data-testid."""
    match = re.search(rf'<code data-testid="{testid}"[^>]*>([^<]*)</code>', page)
    assert match, f"no copy box {testid}"
    return match.group(1)


def test_sso_tab_urls_are_django_allauths_saml_routes_for_the_organization(
    owner_client, organization
):
    actions.update_sso_configuration(organization, enabled=True, actor=helpers.SYSTEM)
    page = owner_client.get("/organizations/acme/access-security/sso/").content.decode()
    routes = {}
    for testid in (
        "sso-entity-id",
        "sso-acs-url",
        "sso-metadata-url",
        "sso-sign-in-url",
    ):
        url = copy_box(page, testid)
        assert url.startswith(f"{BASE}/accounts/saml/acme/"), url
        match = resolve(url.removeprefix(BASE))
        assert match.kwargs == {"organization_slug": "acme"}
        routes[testid] = match.url_name
    assert routes == {
        "sso-entity-id": "saml_metadata",
        "sso-acs-url": "saml_acs",
        "sso-metadata-url": "saml_metadata",
        "sso-sign-in-url": "saml_login",
    }


def test_scim_tab_tenant_url_answers_scim_with_a_real_token(owner_client, organization):
    page = owner_client.get(
        "/organizations/acme/access-security/scim/"
    ).content.decode()
    tenant_url = copy_box(page, "scim-tenant-url")
    assert tenant_url == f"{BASE}/scim/v2"
    helpers.make_member(organization, "pat@acme.example")
    scim = ScimClient(helpers.issue_token(organization))
    response = scim.get(f"{tenant_url.removeprefix(BASE)}/Users")
    assert response.status_code == 200
    # The resources' own URLs are built on the same Tenant URL.
    locations = [user["meta"]["location"] for user in response.json()["Resources"]]
    assert len(locations) == 2
    assert all(location.startswith(f"{tenant_url}/Users/") for location in locations)
