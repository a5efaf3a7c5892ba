"""Sign-ins, failed sign-ins and second-factor and password changes join the audit log
of every organization the person belongs to, with their address and browser."""

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.test import Client

from orgadmin import audit_text
from orgadmin.models import AuditEvent
from tests import helpers
from tests.helpers import PASSWORD

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
AUDIT = "/organizations/acme/access-security/audit-log/"


def browser():
    return Client(HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="198.51.100.7")


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("organization_id"))


def test_a_sign_in_is_recorded_in_each_organization_of_the_person(organization):
    globex = helpers.make_organization("globex", domain="globex.example")
    ada = helpers.make_member(organization, "ada@acme.example")
    helpers.make_member(globex, "ada@acme.example")

    response = browser().post(
        "/accounts/login/", {"login": "ada@acme.example", "password": PASSWORD}
    )

    assert response.status_code == 302
    signed_in = events("account.signed_in")
    assert [e.organization.slug for e in signed_in] == ["acme", "globex"]
    event = signed_in[0]
    assert event.actor_user == ada.user and event.target_id == str(ada.pk)
    assert event.ip_address == "198.51.100.7" and event.user_agent == BROWSER
    assert event.changes == {"methods": ["password"]}
    assert audit_text.describe(event).sentence == "ada@acme.example signed in"


def test_a_wrong_password_is_a_failed_sign_in_the_admins_see(
    owner_client, organization
):
    alan = helpers.make_member(organization, "alan@acme.example")

    response = browser().post(
        "/accounts/login/", {"login": "ALAN@acme.example", "password": "wrong-one"}
    )

    assert response.status_code == 200
    (event,) = events("account.sign_in_failed")
    assert event.organization == organization and event.target_id == str(alan.pk)
    # Someone typed the address: not the account holder's doing.
    assert event.actor_user is None and event.actor_label == "alan@acme.example"
    assert event.ip_address == "198.51.100.7" and event.user_agent == BROWSER
    page = owner_client.get(AUDIT).content.decode()
    assert "A sign-in as alan@acme.example failed: wrong password" in page
    assert BROWSER[:20] in page


def test_a_failed_sign_in_with_an_unknown_address_is_for_operators_only(db):
    browser().post(
        "/accounts/login/", {"login": "nobody@else.example", "password": "x" * 12}
    )
    (event,) = events("account.sign_in_failed")
    assert event.organization is None and event.actor_label == "nobody@else.example"


def test_a_password_change_is_recorded(organization, owner):
    client = browser()
    client.login(email=owner.user.email, password=PASSWORD)

    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "a-new-long-passphrase",
            "password2": "a-new-long-passphrase",
        },
    )
    assert response.status_code == 302
    assert [e.target_id for e in events("account.password_changed")] == [str(owner.pk)]


def test_adding_and_removing_a_second_factor_is_recorded(
    organization, owner, django_capture_on_commit_callbacks
):
    client = browser()
    client.login(email=owner.user.email, password=PASSWORD)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret
    code = current_code(secret)
    # allauth sends these signals once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/2fa/totp/activate/", {"code": code})
    assert response.status_code == 302
    added = events("account.second_factor_added")
    assert [e.changes["factor"] for e in added] == [
        "authenticator app",
        "recovery codes",
    ]
    assert audit_text.describe(added[0]).sentence == (
        "owner@acme.example added a second factor (authenticator app)"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/2fa/totp/deactivate/")
    assert response.status_code == 302
    removed = events("account.second_factor_removed")
    assert {e.changes["factor"] for e in removed} == {
        "authenticator app",
        "recovery codes",
    }


def current_code(secret: str) -> str:
    """The code an authenticator app shows now (the middle of allauth's window)."""
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def test_signing_in_with_a_recovery_code_is_recorded(organization, owner):
    TOTP.activate(owner.user, generate_totp_secret())
    codes = RecoveryCodes.activate(owner.user).get_unused_codes()
    client = browser()
    client.post("/accounts/login/", {"login": owner.user.email, "password": PASSWORD})

    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})

    assert response.status_code == 302
    (used,) = events("account.recovery_code_used")
    assert used.changes == {"left": len(codes) - 1}
    assert audit_text.describe(used).sentence == (
        f"owner@acme.example signed in with a recovery code ({len(codes) - 1} left)"
    )
    (signed_in,) = events("account.signed_in")
    assert signed_in.changes == {"methods": ["password", "second factor"]}


def test_a_wrong_second_factor_code_is_a_failed_sign_in(organization, owner):
    secret = generate_totp_secret()
    TOTP.activate(owner.user, secret)
    client = browser()
    client.post("/accounts/login/", {"login": owner.user.email, "password": PASSWORD})
    valid = {
        format_hotp_value(hotp_value(secret, c))
        for c in yield_hotp_counters_from_time()
    }
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)

    client.post("/accounts/2fa/authenticate/", {"code": wrong})

    (event,) = events("account.sign_in_failed")
    assert event.changes == {"reason": "wrong authenticator app code"}
    assert Authenticator.objects.filter(user=owner.user).count() == 1
