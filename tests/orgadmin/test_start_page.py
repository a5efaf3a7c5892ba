"""The start page: the person's organizations with their real size, the only one opened
directly, and an honest word to a person whose access was deactivated."""

from orgadmin import actions
from tests import helpers
from tests.helpers import PASSWORD, SYSTEM


def test_start_page_counts_each_organizations_active_members(client, organization):
    for name in ("ada", "grace", "alan", "edsger"):
        helpers.make_member(organization, f"{name}@acme.example")
    gone = helpers.make_member(organization, "gone@acme.example")
    actions.deactivate_member(gone, actor=SYSTEM)
    # Invited, not joined yet: not a member until the link is followed.
    actions.add_member(organization, email="later@acme.example", actor=SYSTEM)
    globex = helpers.make_organization("globex", domain="globex.example")
    helpers.make_member(globex, "ada@acme.example")

    client.login(email="ada@acme.example", password=PASSWORD)
    page = client.get("/")

    assert page.status_code == 200
    counts = {o.slug: o.member_count for o in page.context["organizations"]}
    # acme: the owner and four active members; globex: its owner and Ada.
    assert counts == {"acme": 5, "globex": 2}
    html = page.content.decode()
    assert "5 members · acme" in html and "2 members · globex" in html


def test_a_person_with_one_organization_lands_in_it(client, owner):
    client.login(email=owner.user.email, password=PASSWORD)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/organizations/acme/"


def test_a_deactivated_person_is_told_whose_access_ended_and_whom_to_ask(
    client, organization
):
    alan = helpers.make_member(organization, "alan@acme.example")
    admin = helpers.make_member(organization, "ada@acme.example", role="admin")
    actions.update_member(admin, display_name="Ada Lovelace", actor=SYSTEM)
    actions.deactivate_member(alan, actor=SYSTEM)

    client.login(email="alan@acme.example", password=PASSWORD)
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "You do not belong to an organization yet" not in page
    assert "Your access to Acme was deactivated" in page
    assert "owner@acme.example" in page
    assert "Ada Lovelace (ada@acme.example)" in page
    assert "to reactivate you" in page
    # The organization itself stays closed to them.
    assert client.get("/organizations/acme/").status_code == 404
