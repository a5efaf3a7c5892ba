from tests.helpers import PASSWORD


def test_home_page_invites_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "Sign in" in response.content.decode()


def test_owner_signs_in_with_email_and_password(client, organization, owner):
    response = client.post(
        "/accounts/login/", {"login": "OWNER@acme.example", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "Acme" in client.get("/", follow=True).content.decode()


def test_nobody_can_sign_up_on_their_own(client, db):
    response = client.get("/accounts/signup/")
    assert "Sign Up Closed" in response.content.decode() or response.status_code != 200
