"""Operators sign in to /admin/ through allauth: its second factor and its rate limits."""

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core.management import call_command

from orgadmin.models import User
from tests import helpers
from tests.helpers import PASSWORD

OPERATOR = "op@ops.example"
SIGN_IN = "/accounts/login/"
TWO_FACTOR = "/accounts/2fa/authenticate/"
SET_UP_TOTP = "/accounts/2fa/totp/activate/"


@pytest.fixture(autouse=True)
def _a_tolerant_clock(settings):
    # A code made just before a 30-second step ends is still accepted just after it.
    settings.MFA_TOTP_TOLERANCE = 1


def current_code(secret: str) -> str:
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))


def sign_in(client, email=OPERATOR, password=PASSWORD, next_url="/admin/"):
    return client.post(
        SIGN_IN, {"login": email, "password": password, "next": next_url}
    )


def test_the_admin_sign_in_page_is_allauths(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    response = client.get(response.url)  # the admin's own login URL
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=%2Fadmin%2F"


def test_posting_a_password_to_the_admin_login_signs_nobody_in(client, db):
    helpers.make_operator(OPERATOR)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": OPERATOR, "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response.url.startswith(SIGN_IN)
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_staff_with_totp_need_the_code_as_well_as_the_password(client, db):
    secret = generate_totp_secret()
    helpers.make_operator(OPERATOR, totp_secret=secret)

    response = sign_in(client)
    assert response.status_code == 302 and response.url == TWO_FACTOR
    # The password alone opens nothing.
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")

    wrong = format_hotp_value((int(current_code(secret)) + 1) % 1_000_000)
    response = client.post(TWO_FACTOR, {"code": wrong})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302

    response = client.post(TWO_FACTOR, {"code": current_code(secret)})
    assert response.status_code == 302 and response.url == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "orgadmin operations" in page.content.decode()


def test_a_superuser_from_createsuperuser_sets_up_totp_before_the_admin_opens(
    client, db, monkeypatch
):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, email=OPERATOR, verbosity=0)
    assert User.objects.get(email=OPERATOR).is_superuser

    response = sign_in(client)
    assert response.status_code == 302 and response.url == "/admin/"
    response = client.get("/admin/", follow=True)
    assert (SET_UP_TOTP, 302) in response.redirect_chain
    assert "Set up an authenticator app first: the admin needs it." in (
        response.content.decode()
    )
    assert client.get("/admin/orgadmin/organization/").status_code == 302

    # allauth asks for the password again before a second factor is added.
    response = client.post(
        "/accounts/reauthenticate/", {"password": PASSWORD, "next": SET_UP_TOTP}
    )
    assert response.status_code == 302 and response.url == SET_UP_TOTP
    assert client.get(SET_UP_TOTP).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(SET_UP_TOTP, {"code": current_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/orgadmin/organization/").status_code == 200


def test_staff_without_totp_signed_in_any_way_do_not_reach_the_admin(client, db):
    operator = User.objects.create_superuser(email=OPERATOR, password=PASSWORD)
    client.force_login(operator)
    for url in ("/admin/", "/admin/orgadmin/scimtoken/", "/admin/orgadmin/user/"):
        response = client.get(url, follow=True)
        assert (SET_UP_TOTP, 302) in response.redirect_chain, url
        assert "orgadmin operations" not in response.content.decode()


def test_a_signed_in_person_who_is_not_staff_is_refused_by_the_admin(
    client, organization
):
    client.login(email="owner@acme.example", password=PASSWORD)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403


def test_repeated_wrong_passwords_for_an_operator_are_rate_limited(client, db):
    helpers.make_operator(OPERATOR)
    for attempt in range(5):
        response = sign_in(client, password=f"wrong-{attempt}")
        assert response.status_code == 200
        assert "The email address and/or password you specified are not correct." in (
            response.content.decode()
        )
    response = sign_in(client)  # now even the right password
    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in (
        response.content.decode()
    )
    assert "_auth_user_id" not in client.session
