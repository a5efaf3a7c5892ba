"""The deprovisioning brake and removed members in the settings UI."""

from datetime import timedelta

from django.utils import timezone

from orgadmin.models import DeprovisioningBrake, Member
from tests import helpers
from tests.helpers import ScimClient

SCIM_TAB = "/organizations/acme/access-security/scim/"
MEMBERS = "/organizations/acme/members/"


def trip(organization):
    """Provision 19 members "yesterday", then let the IdP deactivate 10 of them."""
    scim = ScimClient(helpers.issue_token(organization))
    ids = [
        helpers.create(scim, f"person{index}@acme.example")["id"] for index in range(19)
    ]
    Member.objects.for_organization(organization).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    for scim_id in ids[:10]:
        helpers.patch(
            scim, scim_id, {"op": "replace", "path": "active", "value": False}
        )
    return scim, ids


def test_a_tripped_brake_shows_a_banner_and_what_was_held_back(
    owner_client, organization
):
    trip(organization)

    members = owner_client.get(MEMBERS).content.decode()
    tab = owner_client.get(SCIM_TAB).content.decode()

    assert 'data-testid="deprovisioning-paused"' in members
    assert 'data-testid="brake-tripped"' in tab
    assert "quarantine" in tab
    assert "person9@acme.example" in tab and "Deactivation" in tab
    assert "Resume deprovisioning" in tab


def test_the_owner_resumes_from_the_scim_tab(owner_client, organization):
    scim, ids = trip(organization)

    response = owner_client.post(f"{SCIM_TAB}brake/resume/", follow=True)

    assert response.status_code == 200
    assert "Deprovisioning resumed" in response.content.decode()
    assert not DeprovisioningBrake.objects.get(organization=organization).is_tripped
    assert (
        'data-testid="deprovisioning-paused"'
        not in owner_client.get(MEMBERS).content.decode()
    )
    held = helpers.patch(
        scim, ids[9], {"op": "replace", "path": "active", "value": False}
    )
    assert held.status_code == 200


def test_the_owner_changes_the_threshold_and_bad_values_are_explained(
    owner_client, organization
):
    trip(organization)

    refused = owner_client.post(SCIM_TAB, {"share_percent": "150", "minimum": "x"})
    saved = owner_client.post(SCIM_TAB, {"share_percent": "50", "minimum": "10"})

    assert refused.status_code == 200
    page = refused.content.decode()
    assert "less than or equal to 100" in page and "Enter a whole number" in page
    assert saved.status_code == 302
    brake = DeprovisioningBrake.objects.get(organization=organization)
    # 10 of 20 is not more than 50%, so there is room again: the trip cleared.
    assert (brake.share_percent, brake.is_tripped) == (50, False)


def test_an_admin_sees_the_brake_but_cannot_resume(client, organization):
    admin = helpers.make_member(organization, "admin@acme.example", role="admin")
    client.login(email=admin.user.email, password=helpers.PASSWORD)
    trip(organization)

    tab = client.get(SCIM_TAB).content.decode()
    response = client.post(f"{SCIM_TAB}brake/resume/", follow=True)

    assert "an owner then presses Resume" in tab
    assert "Only an owner can resume deprovisioning" in response.content.decode()
    assert DeprovisioningBrake.objects.get(organization=organization).is_tripped


def test_the_owner_restores_a_removed_member_from_the_members_pages(
    owner_client, organization
):
    scim = ScimClient(helpers.issue_token(organization))
    pat = helpers.create(scim, "pat@acme.example")
    scim.delete(f"Users/{pat['id']}")

    members = owner_client.get(MEMBERS).content.decode()
    page = owner_client.get(f"{MEMBERS}removed/").content.decode()
    removed = organization.removed_members.get()
    response = owner_client.post(f"{MEMBERS}removed/{removed.pk}/restore/", follow=True)

    assert f'href="{MEMBERS}removed/"' in members
    assert 'data-removed="pat@acme.example"' in page
    assert "was restored" in response.content.decode()
    assert scim.get(f"Users/{pat['id']}").status_code == 200


def test_restoring_over_a_new_member_with_the_user_name_says_why(
    owner_client, organization
):
    scim = ScimClient(helpers.issue_token(organization))
    pat = helpers.create(scim, "pat@acme.example")
    scim.delete(f"Users/{pat['id']}")
    helpers.create(scim, "pat@acme.example")
    removed = organization.removed_members.get()

    response = owner_client.post(f"{MEMBERS}removed/{removed.pk}/restore/", follow=True)

    assert "was not restored" in response.content.decode()
    assert "pat@acme.example exists now" in response.content.decode()
