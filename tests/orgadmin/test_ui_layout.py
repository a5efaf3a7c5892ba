"""Where shared page parts sit: flash messages in the column of the page they belong to."""

from tests.helpers import PASSWORD


def test_flash_message_sits_in_the_settings_content_column(owner_client):
    response = owner_client.post(
        "/organizations/acme/", {"name": "Acme Inc"}, follow=True
    )
    page = response.content.decode()
    assert page.count('class="messages"') == 1
    # After the side navigation, inside the content column, before the page heading.
    nav_end = page.index("</nav>", page.index('class="sidenav"'))
    body = page.index('class="settings-body"')
    messages = page.index('class="messages"')
    assert nav_end < body < messages < page.index("<h1")
    assert "Organization settings saved." in page[messages:]


def test_flash_message_sits_in_the_account_content_column(client, owner):
    client.post(
        "/accounts/login/", {"login": "owner@acme.example", "password": PASSWORD}
    )
    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "a-new-long-passphrase-42",
            "password2": "a-new-long-passphrase-42",
        },
        follow=True,
    )
    page = response.content.decode()
    assert page.count('class="messages"') == 1
    nav_end = page.index("</nav>", page.index('aria-label="Your account"'))
    assert nav_end < page.index('class="manage-body"') < page.index('class="messages"')


def test_pages_without_a_side_navigation_still_show_messages(client, owner):
    response = client.post(
        "/accounts/login/",
        {"login": "owner@acme.example", "password": PASSWORD},
        follow=True,
    )
    client.post("/accounts/logout/")
    page = client.get("/accounts/login/").content.decode()
    assert response.status_code == 200
    assert page.count('class="messages"') == 1
