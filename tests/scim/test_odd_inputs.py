"""Odd and hostile input: always a 400 (or 411/413) with an RFC 7644 body, never a 500,
and nothing written. Runs on SQLite and PostgreSQL: a value longer than its column or
with a NUL character must be refused before the database sees it."""

import io
import json

import pytest
from django.core.wsgi import get_wsgi_application

from orgadmin.models import Member, Team
from scim.parsers import MAX_PAYLOAD_BYTES
from tests import helpers
from tests.helpers import ENTERPRISE, GROUP, PATCH_OP, USER, assert_error

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def user(**extra):
    return {"schemas": [USER], "userName": "pat@acme.example", **extra}


@pytest.mark.parametrize(
    "body, scim_type, detail",
    [
        ("[]", "invalidSyntax", "JSON object"),
        ("null", "invalidSyntax", "JSON object"),
        ('"pat"', "invalidSyntax", "JSON object"),
        ("1e999", "invalidSyntax", "JSON object"),
        ("[" * 5000 + "]" * 5000, "invalidSyntax", "nested"),
        (json.dumps([user()]), "invalidSyntax", "JSON object"),
        (json.dumps(user(active=10**400)), "invalidValue", "active"),
        (json.dumps(user(externalId="x" * 300)), "invalidValue", "externalId"),
        (json.dumps(user(userName="p" * 300 + "@acme.example")), "invalidValue", "255"),
        (json.dumps(user(displayName="é" * 256)), "invalidValue", "displayName"),
        (json.dumps(user(title="T\u0000")), "invalidValue", "NUL"),
        (json.dumps(user(**{"name": {"givenName\u0000": "x"}})), "invalidValue", "NUL"),
        (
            json.dumps(user(title="SURROGATE")).replace("SURROGATE", "\\ud800"),
            "invalidValue",
            "surrogate",
        ),
        (json.dumps(user(emails="pat@acme.example")), "invalidValue", "emails"),
        (
            json.dumps(user(phoneNumbers=[{"value": "1" * 2000}])),
            "invalidValue",
            "long",
        ),
        (
            json.dumps(user(**{ENTERPRISE: {"department": "d" * 256}})),
            "invalidValue",
            "department",
        ),
        ("\ufeff" + json.dumps(user()), "invalidSyntax", "JSON"),
        (json.dumps(user()).encode("utf-16"), "invalidSyntax", "JSON"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_odd_user_bodies_get_400_and_create_nothing(scim, body, scim_type, detail):
    before = Member.objects.count()
    error = assert_error(scim.post("Users", body), 400, scim_type)
    assert detail in error["detail"]
    assert Member.objects.count() == before


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"schemas": [GROUP], "displayName": "x" * 256}, "displayName"),
        (
            {"schemas": [GROUP], "displayName": "x", "externalId": "e" * 300},
            "externalId",
        ),
        ({"schemas": [GROUP], "displayName": "Ops\u0000"}, "NUL"),
        (
            {"schemas": [GROUP], "displayName": "Ops", "members": [{"value": 5}]},
            "value",
        ),
    ],
)
def test_odd_group_bodies_get_400_and_create_nothing(scim, body, detail):
    error = assert_error(scim.post("Groups", body), 400, "invalidValue")
    assert detail in error["detail"]
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "startIndex=" + "9" * 30,
        "count=" + "9" * 30,
        "startIndex=-3&count=-5",
        "startIndex=1e3",
        "count=%EF%BC%91",
    ],
)
def test_out_of_range_paging_is_clamped_never_a_500(scim, query):
    response = scim.get(f"Users?{query}")
    if "e3" in query or "%EF" in query:
        assert_error(response, 400, "invalidValue")
        return
    assert response.status_code == 200, response.content
    assert response.json()["totalResults"] == 1  # the owner


@pytest.mark.parametrize(
    "parameters, detail",
    [
        ({"count": 1.5}, "count"),
        ({"startIndex": True}, "startIndex"),
        ({"count": "ten"}, "count"),
    ],
)
def test_search_bodies_with_non_integer_paging_get_400(scim, parameters, detail):
    body = {"schemas": [SEARCH], **parameters}
    error = assert_error(scim.post("Users/.search", body), 400, "invalidValue")
    assert detail in error["detail"]


def test_search_body_with_huge_start_index_is_an_empty_page(scim):
    body = {"schemas": [SEARCH], "startIndex": 1e300, "count": 2}
    response = scim.post("Users/.search", body)
    assert response.status_code == 200, response.content
    assert response.json()["Resources"] == []


def test_user_name_with_inner_spaces_is_kept_and_outer_spaces_trimmed(scim):
    # Neither is an error: Okta and Entra may use non-email userNames.
    response = scim.post("Users", user(userName="  pat smith@acme.example "))
    assert response.status_code == 201, response.content
    assert response.json()["userName"] == "pat smith@acme.example"


# ------------------------------------------------------------------------ raw bodies


def raw_request(secret, body: bytes, *, terminated: bool):
    """A POST whose body is chunked (no Content-Length), straight to the WSGI app."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/scim/v2/Users",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/scim+json; charset=utf-8",
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if terminated:
        environ["wsgi.input_terminated"] = True  # gunicorn de-chunks and says so
    status = []
    chunks = get_wsgi_application()(environ, lambda s, h: status.append((s, h)))
    content = b"".join(chunks)
    return int(status[0][0].split()[0]), dict(status[0][1]), json.loads(content or "{}")


def test_chunked_body_without_content_length_is_read_bounded(
    organization, keep_the_test_connection
):
    secret = helpers.issue_token(organization)
    status, headers, body = raw_request(
        secret, json.dumps(user()).encode(), terminated=True
    )
    assert status == 201, body
    assert body["userName"] == "pat@acme.example"

    huge = json.dumps(user(title="x" * (MAX_PAYLOAD_BYTES + 10))).encode()
    status, headers, body = raw_request(secret, huge, terminated=True)
    assert (status, body["status"]) == (413, "413")
    assert headers["Content-Type"].startswith("application/scim+json")
    assert Member.objects.filter(user_name="pat@acme.example").count() == 1


def test_chunked_body_the_server_cannot_terminate_gets_411(
    organization, keep_the_test_connection
):
    secret = helpers.issue_token(organization)
    status, _, body = raw_request(secret, json.dumps(user()).encode(), terminated=False)
    assert (status, body["status"]) == (411, "411")
    assert "Content-Length" in body["detail"]
    assert not Member.objects.filter(user_name="pat@acme.example").exists()


# ------------------------------------------------------------------------ mutability


def patch(scim, path, *operations):
    return scim.patch(path, {"schemas": [PATCH_OP], "Operations": list(operations)})


@pytest.fixture
def pat(scim):
    response = scim.post("Users", user())
    assert response.status_code == 201
    return response.json()


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "x"},
        {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"},
        {"op": "replace", "path": "meta", "value": {"version": 'W/"9"'}},
        {"op": "remove", "path": "meta.lastModified"},
        {"op": "add", "path": "groups", "value": [{"value": "x"}]},
        {"op": "add", "path": f"{USER}:groups", "value": [{"value": "x"}]},
    ],
)
def test_read_only_attributes_get_400_mutability_and_nothing_changes(
    scim, pat, operation
):
    version = pat["meta"]["version"]
    both = [{"op": "replace", "path": "title", "value": "Boss"}, operation]
    assert_error(patch(scim, f"Users/{pat['id']}", *both), 400, "mutability")
    after = scim.get(f"Users/{pat['id']}").json()
    assert "title" not in after and after["meta"]["version"] == version


def test_removing_active_is_refused_rather_than_ignored(scim, pat):
    error = assert_error(
        patch(scim, f"Users/{pat['id']}", {"op": "remove", "path": "active"}),
        400,
        "invalidValue",
    )
    assert "replace it with false" in error["detail"]
    assert scim.get(f"Users/{pat['id']}").json()["active"] is True


def test_the_enterprise_urn_as_a_path_sets_and_removes_its_attributes(scim, pat):
    response = patch(
        scim,
        f"Users/{pat['id']}",
        {
            "op": "add",
            "path": ENTERPRISE,
            "value": {"schemas": [ENTERPRISE], "department": "Ops", "costCenter": "42"},
        },
        {"op": "Replace", "path": ENTERPRISE, "value": {"costCenter": "43"}},
    )
    assert response.status_code == 200, response.content
    assert response.json()[ENTERPRISE] == {"department": "Ops", "costCenter": "43"}

    response = patch(scim, f"Users/{pat['id']}", {"op": "remove", "path": ENTERPRISE})
    assert response.status_code == 200, response.content
    assert ENTERPRISE not in response.json()
    assert_error(
        patch(
            scim, f"Users/{pat['id']}", {"op": "add", "path": ENTERPRISE, "value": 1}
        ),
        400,
        "invalidValue",
    )


def test_a_method_the_endpoint_lacks_gets_405_with_allow(scim, pat):
    for method, path, allowed in [
        ("PUT", "Users", {"GET", "POST"}),
        ("DELETE", "Groups", {"GET", "POST"}),
        ("POST", f"Users/{pat['id']}", {"GET", "PUT", "PATCH", "DELETE"}),
        ("PATCH", "ServiceProviderConfig", {"GET"}),
        ("GET", "Users/.search", {"POST"}),
    ]:
        response = scim.request(method, path, {})
        assert_error(response, 405)
        offered = {m.strip() for m in response["Allow"].split(",")}
        assert allowed <= offered and method not in offered, (path, offered)


def test_group_schema_states_what_the_endpoint_enforces_and_returns(scim):
    schema = scim.get(f"Schemas/{GROUP}").json()
    attributes = {a["name"]: a for a in schema["attributes"]}
    assert attributes["displayName"]["required"] is True
    members = {s["name"]: s for s in attributes["members"]["subAttributes"]}
    assert members["display"]["mutability"] == "readOnly"
    assert_error(scim.post("Groups", {"schemas": [GROUP]}), 400, "invalidValue")


def test_the_request_log_keeps_no_token_password_or_body(scim, organization):
    from orgadmin.models import ScimRequestLog

    password = "Sup3r-s3cret-pa55word"
    scim.post("Users", user(password=password, title=5))
    scim.post("Users", user(password=password))
    scim.get(f"Users?filter=userName+eq+%22x%22&token={scim.secret}")
    rows = list(ScimRequestLog.objects.for_organization(organization))
    assert [r.status for r in sorted(rows, key=lambda r: r.pk)] == [400, 201, 200]
    for row in rows:
        text = f"{row.path} {row.error_detail}"
        assert password not in text and scim.secret not in text
        assert "pat@acme.example" not in row.error_detail
