"""Every page sends the Content-Security-Policy, and no page needs inline code to work.

The policy allows scripts and styles from our own origin only, so an inline `<script>`,
`<style>`, `style="..."` or `onclick="..."` would be refused by the browser. The pages
are found from the URLconf, so a new page is checked without being listed here.
"""

from html.parser import HTMLParser

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib import admin
from django.urls import get_resolver, reverse

from orgadmin import actions, invitations
from tests import helpers
from tests.helpers import PASSWORD, SYSTEM

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self' https:",
    "base-uri": "'none'",
    "object-src": "'none'",
}
# Script elements of these types hold data that no browser runs (allauth passes its
# settings to its own static scripts so), which the policy does not concern.
DATA_SCRIPT_TYPES = {"application/json"}


class _InlineCode(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        is_data = attributes.get("type") in DATA_SCRIPT_TYPES
        if tag == "script" and not attributes.get("src") and not is_data:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> block")
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            elif name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            elif (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{name}=javascript: on <{tag}>")

    handle_startendtag = handle_starttag


def inline_code(html: str) -> list[str]:
    """What in this HTML a strict policy refuses: inline scripts, styles, handlers."""
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_policy_and_no_inline_code(response, url):
    directives = dict(
        directive.strip().partition(" ")[::2]
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert directives == POLICY, url
    if response["Content-Type"].startswith("text/html"):
        assert inline_code(response.content.decode()) == [], url


def urls_of(resolver, prefix: str, values: dict[str, str]) -> list[str]:
    """Every URL named in `resolver`, its parameters filled in from `values`."""
    urls = set()
    for name in resolver.reverse_dict:
        if not isinstance(name, str):
            continue
        for possibility, *_ in resolver.reverse_dict.getlist(name):
            _, parameters = possibility[0]
            kwargs = {parameter: values[parameter] for parameter in parameters}
            urls.add(reverse(f"{prefix}{name}", kwargs=kwargs))
    return sorted(urls)


def settings_ui_urls(organization) -> list[str]:
    member = helpers.make_member(organization, "pat@acme.example")
    team = actions.create_team(
        organization, display_name="Engineering", member_ids=[member.pk], actor=SYSTEM
    )
    claimed = actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)
    token, _ = actions.issue_scim_token(organization, name="Entra", actor=SYSTEM)
    invited = actions.add_member(organization, email="kim@acme.example", actor=SYSTEM)
    actions.remove_member(
        helpers.make_member(organization, "gone@acme.example"), actor=SYSTEM
    )
    _, namespaced = get_resolver().namespace_dict["orgadmin"]
    values = {
        "token": invitations.make_token(invited),
        "slug": organization.slug,
        "member_id": member.pk,
        "team_id": team.pk,
        "domain_id": claimed.pk,
        "token_id": token.pk,
        "removed_id": organization.removed_members.get().pk,
    }
    return urls_of(namespaced, "orgadmin:", values)


def account_urls() -> list[str]:
    """allauth's pages: sign-in, password reset, reauthentication, two-factor, SAML."""
    values = {"key": "not-a-key", "uidb36": "1", "organization_slug": "acme"}
    return [
        url
        for url in urls_of(get_resolver(), "", values)
        if url.startswith("/accounts/")
    ]


SIGN_IN = {"login": "owner@acme.example", "password": PASSWORD}


@pytest.fixture
def signed_in_client(client, owner):
    # A real sign-in and reauthentication: the pages that ask for the password again
    # (a new token, two-factor setup) then show themselves instead of that question.
    assert client.post("/accounts/login/", SIGN_IN).status_code == 302
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    return client


def test_the_inline_code_check_finds_each_kind_of_inline_code():
    html = (
        '<script>alert(1)</script><script src="/static/a.js"></script>'
        '<script type="application/json">{"a": 1}</script>'
        '<style>p {}</style><p style="color: red" onclick="go()">x</p>'
        '<a href="javascript:go()">x</a><img src="/x.png" onerror="go()"/>'
    )

    assert inline_code(html) == [
        "<script> without src",
        "<style> block",
        "style= on <p>",
        "onclick= on <p>",
        "href=javascript: on <a>",
        "onerror= on <img>",
    ]


def test_every_settings_page_has_the_policy_and_no_inline_code(
    signed_in_client, organization
):
    urls = settings_ui_urls(organization)
    assert "/organizations/acme/access-security/domains/" in urls
    for url in urls:
        response = signed_in_client.get(url, follow=True)
        assert_policy_and_no_inline_code(response, url)


def test_forms_with_errors_and_a_new_token_have_no_inline_code(
    signed_in_client, organization
):
    domains = "/organizations/acme/access-security/domains/"
    response = signed_in_client.post(domains, {"domain": "https://acme.example/x"})
    assert "without http://" in response.content.decode()
    assert_policy_and_no_inline_code(response, domains)

    response = signed_in_client.post(
        "/organizations/acme/access-security/scim/tokens/new/",
        {"name": "Okta", "expires_at": ""},
        follow=True,
    )
    assert 'data-testid="scim-token"' in response.content.decode()
    assert_policy_and_no_inline_code(response, "new token")


def test_every_account_page_has_the_policy_and_no_inline_code(client, owner):
    urls = account_urls()
    assert "/accounts/login/" in urls and "/accounts/2fa/" in urls
    for url in urls:
        assert_policy_and_no_inline_code(client.get(url, follow=True), url)

    # Signed in, without and then with two-factor authentication.
    client.post("/accounts/login/", SIGN_IN)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    for url in urls:
        assert_policy_and_no_inline_code(client.get(url, follow=True), url)
    TOTP.activate(owner.user, generate_totp_secret())
    RecoveryCodes.activate(owner.user)
    for url in urls:
        assert_policy_and_no_inline_code(client.get(url, follow=True), url)
    response = client.get("/accounts/2fa/recovery-codes/")
    assert 'id="recovery_codes"' in response.content.decode()

    # The code page of a sign-in with two-factor authentication.
    client.logout()
    response = client.post("/accounts/login/", SIGN_IN, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/2fa/authenticate/"
    assert_policy_and_no_inline_code(response, "/accounts/2fa/authenticate/")


def test_the_two_factor_setup_page_and_its_qr_code_have_no_inline_code(
    signed_in_client,
):
    response = signed_in_client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    assert 'src="data:image/svg+xml' in response.content.decode()
    assert_policy_and_no_inline_code(response, "/accounts/2fa/totp/activate/")


def test_every_admin_page_has_the_policy_and_no_inline_code(client, organization):
    client.force_login(helpers.make_operator())  # with TOTP, as the admin requires
    helpers.make_member(organization, "pat@acme.example")
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        urls.append(reverse("admin:{}_{}_add".format(*info)))
        row = model.objects.first()
        if row is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[row.pk]))
    for url in urls:
        # Adding is refused (403) where only actions may write.
        response = client.get(url)
        assert response.status_code in (200, 403), url
        if response.status_code == 200:
            assert 'id="site-name"' in response.content.decode(), url
        assert_policy_and_no_inline_code(response, url)
