"""Chromium enforces the Content-Security-Policy, and no page breaks it.

Every browser test fails on a violation (the autouse fixture in conftest.py); these
tests show that a violation is seen, and visit the pages no other browser test opens.
"""

from django.test import Client
from playwright.sync_api import expect

from tests import helpers
from tests.helpers import sign_in
from tests.orgadmin.test_content_security_policy import account_urls, settings_ui_urls


def test_an_inline_style_is_refused_and_reported(page, site, csp_violations):
    base_url, _ = site
    page.goto(f"{base_url}/accounts/login/")

    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """document.body.insertAdjacentHTML(
                "beforeend", '<p id="styled" style="color: rgb(255, 0, 0)">x</p>')"""
        )

    assert page.locator("#styled").evaluate("p => getComputedStyle(p).color") != (
        "rgb(255, 0, 0)"
    )
    assert len(csp_violations) == 1 and "style-src" in csp_violations[0]
    # Caused on purpose: the fixture that fails a test on a violation lets this pass.
    csp_violations.clear()


def test_every_settings_and_account_page_loads_without_a_violation(
    page, site, csp_violations
):
    base_url, organization = site
    urls = settings_ui_urls(organization) + account_urls()
    sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/accounts/reauthenticate/")
    page.get_by_label("Password").fill(helpers.PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).not_to_have_url(f"{base_url}/accounts/reauthenticate/")

    page.goto(f"{base_url}/accounts/2fa/totp/activate/", wait_until="load")
    expect(page.locator("img[src^='data:image/svg+xml']")).to_be_visible()

    for url in urls:
        # Only pages: not the POST-only URLs (405), the CSV download or signing out.
        answer = page.request.get(f"{base_url}{url}")
        is_page = answer.ok and answer.headers["content-type"].startswith("text/html")
        if is_page and url != "/accounts/logout/":
            page.goto(f"{base_url}{url}", wait_until="load")

    assert csp_violations == []


def test_the_admin_loads_without_a_violation(page, site, csp_violations):
    base_url, _ = site
    operator = helpers.make_operator()
    # The admin's own sign-in (password and TOTP code) is tested elsewhere: here the
    # browser gets a session made by the test client.
    client = Client()
    client.force_login(operator)
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": base_url,
            }
        ]
    )
    for path in ("", "orgadmin/member/", f"orgadmin/user/{operator.pk}/change/"):
        page.goto(f"{base_url}/admin/{path}", wait_until="load")
        expect(page.locator("#site-name")).to_be_visible()

    assert csp_violations == []
