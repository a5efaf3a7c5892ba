"""allauth's two-factor pages in orgadmin's clothes: the sign-in code page and recovery
codes, through the test client."""

import re

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from tests.helpers import PASSWORD

SIGN_IN = {"login": "owner@acme.example", "password": PASSWORD}


def button(page: str, label: str) -> str:
    """The opening tag of the <button> whose text is `label`."""
    match = re.search(rf"(<button[^>]*>)\s*{label}\s*</button>", page)
    assert match, f"no {label} button"
    return match.group(1)


def test_cancel_on_the_sign_in_code_page_is_a_secondary_button(client, owner):
    TOTP.activate(owner.user, generate_totp_secret())
    response = client.post("/accounts/login/", SIGN_IN, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/2fa/authenticate/"
    page = response.content.decode()
    cancel = button(page, "Cancel")
    assert 'class="secondary"' in cancel and 'form="logout-from-stage"' in cancel
    assert 'class=""' in button(page, "Sign in")


def test_recovery_codes_page_leads_back_to_two_factor(client, owner):
    client.post("/accounts/login/", SIGN_IN)
    TOTP.activate(owner.user, generate_totp_secret())
    RecoveryCodes.activate(owner.user)
    # allauth shows the codes only after the password is asked again.
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    response = client.get("/accounts/2fa/recovery-codes/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="recovery_codes"' in page
    assert (
        '<a class="button secondary" href="/accounts/2fa/" '
        'data-testid="recovery-codes-done">Done: back to two-factor authentication</a>'
    ) in page
