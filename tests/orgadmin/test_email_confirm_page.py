"""allauth's email confirmation page: an expired or invalid link says so and offers a
next step that exists, never allauth's /accounts/email/ (not mounted here)."""

import re

from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.test import RequestFactory
from django.urls import reverse

from orgadmin.models import User
from tests.helpers import PASSWORD

NEXT_STEP = re.compile(r'<p data-testid="email-confirm-next-step">(.*?)</p>', re.S)


def confirmation_key(email: str) -> str:
    """A confirmation key as allauth mails it, for a new unconfirmed address."""
    user = User.objects.create_user(email=email, password=PASSWORD)
    address = EmailAddress.objects.add_email(RequestFactory().get("/"), user, email)
    return EmailConfirmationHMAC(address).key


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def next_step_of_dead_link(page) -> str:
    """The page's next step, after checking it says the link is dead and offers
    neither a Confirm button nor the unmounted email page."""
    assert page.status_code == 200
    body = page.content.decode()
    assert "This confirmation link no longer works" in body
    assert reverse("account_email") == "/accounts/email/"
    assert "/accounts/email/" not in hrefs(body)
    assert 'action="/accounts/confirm-email/' not in body
    (step,) = NEXT_STEP.findall(body)
    assert "ask an admin of your organization to send you a new invitation" in step
    return step


def test_an_invalid_confirmation_link_says_so_and_offers_sign_in(client, db):
    page = client.get(reverse("account_confirm_email", args=["not-a-real-key"]))
    assert hrefs(next_step_of_dead_link(page)) == [reverse("account_login")]


def test_an_expired_confirmation_link_says_so_and_offers_sign_in(client, db, settings):
    key = confirmation_key("pat@acme.example")
    # A negative lifetime makes any key, however new, too old: no clock involved.
    settings.ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = -1
    page = client.get(reverse("account_confirm_email", args=[key]))
    assert hrefs(next_step_of_dead_link(page)) == [reverse("account_login")]
    assert not EmailAddress.objects.get(email="pat@acme.example").verified


def test_signed_in_a_dead_link_offers_the_organizations_not_sign_in(owner_client):
    page = owner_client.get(reverse("account_confirm_email", args=["not-a-real-key"]))
    assert hrefs(next_step_of_dead_link(page)) == [reverse("orgadmin:home")]


def test_a_valid_confirmation_link_still_confirms_the_address(client, db):
    key = confirmation_key("pat@acme.example")
    url = reverse("account_confirm_email", args=[key])
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Confirm your email address" in body and "pat@acme.example" in body
    assert f'<form method="post" action="{url}">' in body
    assert "/accounts/email/" not in hrefs(body)
    client.post(url)
    assert EmailAddress.objects.get(email="pat@acme.example").verified


def test_an_address_confirmed_for_another_account_says_so_without_the_email_page(
    client, db
):
    key = confirmation_key("pat@acme.example")
    other = User.objects.create_user(email="pat.lee@acme.example", password=PASSWORD)
    # A stale row: orgadmin's proofs take an address over (record_proven_email), yet
    # allauth's page still has this case and must not send anyone to its email page.
    EmailAddress.objects.create(user=other, email="pat@acme.example", verified=True)
    page = client.get(reverse("account_confirm_email", args=[key]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "already confirmed for another account" in body
    assert 'action="/accounts/confirm-email/' not in body
    (step,) = NEXT_STEP.findall(body)
    assert hrefs(step) == [reverse("account_login")]
    assert "/accounts/email/" not in hrefs(body)
