"""The SSO tab's Save says "No changes to save." when the form comes back as it was
shown, and records nothing; a real change is saved and recorded."""

import pytest

from orgadmin.models import AuditEvent, SSOConfiguration
from tests.orgadmin.test_admin_one_door import FormControls, submitted
from tests.orgadmin.test_sso_sign_in import configure
from tests.saml_idp import FakeIdP

SSO = "/organizations/acme/access-security/sso/"


def settings_form_data(client) -> dict[str, list[str]]:
    """What the browser sends when the SSO settings form is saved as shown."""
    html = client.get(SSO).content.decode()
    start = html.index('<form method="post" enctype="multipart/form-data"')
    end = html.index("</form>", start) + len("</form>")
    # The settings form has no id; fed alone, it is the only form the parser sees.
    parser = FormControls(form_id=None)
    parser.feed(html[start:end])
    return submitted(parser.controls)


@pytest.fixture(params=["configured", "never_configured"])
def sso_tab(request, organization):
    if request.param == "configured":
        configure(organization, FakeIdP(), allow_idp_initiated=True)
    return organization


def test_saving_the_sso_form_unchanged_says_so_and_records_nothing(
    owner_client, sso_tab
):
    data = settings_form_data(owner_client)
    before = AuditEvent.objects.count()

    response = owner_client.post(SSO, data, follow=True)

    assert response.redirect_chain == [(SSO, 302)]
    page = response.content.decode()
    assert "No changes to save." in page and "SSO settings saved." not in page
    assert AuditEvent.objects.count() == before


def test_a_real_change_on_the_sso_form_is_saved_and_recorded(owner_client, sso_tab):
    data = settings_form_data(owner_client)
    assert data["default_role"] == ["member"]
    data["default_role"] = ["admin"]
    since = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()

    response = owner_client.post(SSO, data, follow=True)

    assert response.redirect_chain == [(SSO, 302)]
    page = response.content.decode()
    assert "SSO settings saved." in page and "No changes to save." not in page
    (event,) = AuditEvent.objects.filter(pk__gt=since)
    assert event.action == "sso.updated"
    assert event.changes == {"default_role": {"from": "member", "to": "admin"}}
    assert SSOConfiguration.objects.get(organization=sso_tab).default_role == "admin"
