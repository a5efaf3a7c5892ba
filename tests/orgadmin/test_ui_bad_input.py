"""Bad input in the settings UI is a message next to its field, never a 500: each form
field is bounded by its column, and the audit log's dates stay inside the calendar.

Only PostgreSQL enforces column lengths, so run this module with DATABASE_URL too."""

import pytest

from orgadmin.models import Member, Organization, Team, User

BASE = "/organizations/acme/"
AUDIT = f"{BASE}access-security/audit-log/"
AUDIT_CSV = f"{BASE}access-security/audit-log.csv"

# (page, field, model, column, the form's other fields, the form's context name)
BOUNDED_FIELDS = [
    ("", "name", Organization, "name", {}, "form"),
    (
        "members/invite/",
        "full_name",
        User,
        "full_name",
        {"email": "new@acme.example", "role": "member"},
        "form",
    ),
    (
        "members/{owner}/profile/",
        "display_name",
        Member,
        "display_name",
        {},
        "profile_form",
    ),
    ("members/{owner}/profile/", "title", Member, "title", {}, "profile_form"),
    (
        "members/{owner}/profile/",
        "department",
        Member,
        "department",
        {},
        "profile_form",
    ),
    ("teams/new/", "display_name", Team, "display_name", {}, "form"),
]


def column_length(model, column):
    return model._meta.get_field(column).max_length


@pytest.mark.parametrize(
    ("path", "field", "model", "column", "other", "context_name"),
    BOUNDED_FIELDS,
    ids=[f"{path or 'general'}:{field}" for path, field, *_ in BOUNDED_FIELDS],
)
def test_a_form_value_longer_than_its_column_is_a_field_error_and_its_length_is_saved(
    owner_client, owner, path, field, model, column, other, context_name
):
    # Not "page": that name is pytest-playwright's fixture, and would make this a
    # browser test.
    url = BASE + path.format(owner=owner.pk)
    limit = column_length(model, column)

    too_long = owner_client.post(url, {**other, field: "x" * (limit + 1)})
    longest = owner_client.post(url, {**other, field: "x" * limit})

    assert too_long.status_code == 200
    errors = too_long.context[context_name].errors[field]
    assert f"at most {limit} characters" in " ".join(errors)
    assert longest.status_code == 302


def test_an_invitation_to_an_address_longer_than_the_email_column_is_a_field_error(
    owner_client, organization
):
    limit = column_length(Member, "email")
    domain = "@acme.example"
    members = Member.objects.filter(organization=organization).count()

    too_long = owner_client.post(
        f"{BASE}members/invite/",
        {"email": "a" * (limit + 1 - len(domain)) + domain, "role": "member"},
    )
    longest = owner_client.post(
        f"{BASE}members/invite/",
        {"email": "a" * (limit - len(domain)) + domain, "role": "member"},
    )

    assert too_long.status_code == 200
    assert f"at most {limit} characters" in " ".join(
        too_long.context["form"].errors["email"]
    )
    assert longest.status_code == 302
    assert Member.objects.filter(organization=organization).count() == members + 1


def test_an_audit_log_to_date_on_the_last_day_of_the_calendar_is_a_field_error(
    owner_client,
):
    response = owner_client.get(AUDIT, {"date_to": "9999-12-31"})

    assert response.status_code == 200
    assert response.context["filters"]["date_to"].errors == [
        "Enter a date before 31 December 9999."
    ]
    assert list(response.context["page"]) == []


def test_the_audit_csv_export_with_the_last_day_of_the_calendar_is_a_plain_400(
    owner_client,
):
    response = owner_client.get(AUDIT_CSV, {"date_to": "9999-12-31"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "To: Enter a date before 31 December 9999." in response.content.decode()


def test_audit_log_dates_from_the_first_day_to_the_next_to_last_list_every_event(
    owner_client,
):
    everything = list(owner_client.get(AUDIT).context["page"])

    response = owner_client.get(
        AUDIT, {"date_from": "0001-01-01", "date_to": "9999-12-30"}
    )
    export = owner_client.get(
        AUDIT_CSV, {"date_from": "0001-01-01", "date_to": "9999-12-30"}
    )

    assert everything
    assert list(response.context["page"]) == everything
    assert export.status_code == 200
    lines = b"".join(export.streaming_content).decode().strip().splitlines()
    assert len(lines) == len(everything) + 1
