"""Isolation, generated from the URL configuration: every URL that takes an id answers
another organization's id with 404, for the owner of one organization (UI) and for a
SCIM token of one organization (SCIM), whatever the method.

The walk covers every pattern of django.urls.get_resolver(), so a new URL is checked
without editing this file; a URL with a parameter the walk cannot fill fails until
FILL (or SCIM_RESOURCES) says how to make another organization's object for it, or
NOT_ORGANIZATION_SCOPED says why it takes no organization's id.
"""

import itertools
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from orgadmin import actions
from orgadmin.models import Member, Organization, Team
from tests import helpers
from tests.helpers import SYSTEM, ScimClient

# ------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", or the path for an unnamed pattern
    path: str
    parameters: tuple[str, ...]  # unnamed regex groups as "<unnamed>"

    def url(self, values: dict[str, object]) -> str:
        return reverse(self.name, kwargs=values)


def _parameters(pattern) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return list(pattern.converters)
    regex = pattern.regex
    return list(regex.groupindex) + ["<unnamed>"] * (
        regex.groups - len(regex.groupindex)
    )


def _walk(patterns, prefix="", namespace=None, inherited=()):
    for pattern in patterns:
        parameters = (*inherited, *_parameters(pattern.pattern))
        path = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else None
                inner = inner or pattern.namespace
            yield from _walk(pattern.url_patterns, path, inner, parameters)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (
                f"{namespace}:{pattern.name}" if namespace else pattern.name
            )
            yield Route(name or path, path, parameters)


ROUTES = [route for route in _walk(get_resolver().url_patterns) if route.parameters]

# ------------------------------------------------------------------------ the tables

ORGANIZATION = "slug"  # the organization a settings page belongs to


@dataclass
class Objects:
    """One of each organization-scoped object, made through the actions."""

    organization: Organization
    member: Member
    invitee: Member
    team: Team
    domain: object
    token: object
    removed: object


def objects_of(organization: Organization) -> Objects:
    slug = organization.slug
    return Objects(
        organization=organization,
        member=helpers.make_member(organization, f"member@{slug}.example"),
        invitee=actions.add_member(
            organization, email=f"invitee-{slug}@elsewhere.example", actor=SYSTEM
        ),
        team=actions.create_team(organization, display_name="Sales", actor=SYSTEM),
        domain=actions.claim_domain(
            organization, domain=f"labs.{slug}.example", actor=SYSTEM
        ),
        token=actions.issue_scim_token(organization, name="Entra", actor=SYSTEM)[0],
        removed=_removed_member(organization),
    )


def _removed_member(organization: Organization):
    member = helpers.make_member(organization, f"gone@{organization.slug}.example")
    actions.remove_member(member, actor=SYSTEM)
    return organization.removed_members.get()


# Parameter -> the ids of an organization's objects it may name.
FILL = {
    "member_id": lambda o: [o.member.pk, o.invitee.pk],  # invitations too
    "team_id": lambda o: [o.team.pk],
    "domain_id": lambda o: [o.domain.pk],
    "token_id": lambda o: [o.token.pk],
    "removed_id": lambda o: [o.removed.pk],
}

# SCIM endpoints with a resource id -> the object it names.
SCIM_RESOURCES = {
    "scim:user": lambda o: o.member.scim_id,
    "scim:group": lambda o: o.team.scim_id,
}

# URLs whose parameters name no organization's object, with the reason.
_ADMIN = "the operators' Django admin: it spans every organization by design, behind "
_ADMIN += "staff status and TOTP (tests/orgadmin/test_admin_login.py)"
_SAML = "django-allauth's SAML endpoints for the IdP, public by design (the IdP and "
_SAML += "the browser reach them without a session); the slug is in the SP metadata"
NOT_ORGANIZATION_SCOPED = {
    "admin:": _ADMIN,  # a prefix: every admin URL
    "admin/": _ADMIN,  # unnamed admin patterns (redirects, the catch-all)
    "account_confirm_email": "allauth's signed email confirmation key",
    "account_reset_password_from_key": "allauth's signed password reset key",
    "saml_acs": _SAML,
    "saml_finish_acs": _SAML,
    "saml_sls": _SAML,
    "saml_metadata": _SAML,
    "saml_login": _SAML,
    "orgadmin:invitation-accept": "a signed invitation link, for whoever holds it "
    "(tests/orgadmin/test_invitations*.py check tampered and foreign links)",
    "scim:resource-type": "discovery documents, the same for every organization",
    "scim:schema": "discovery documents, the same for every organization",
    "scim:not-implemented": "/Bulk and /Me answer 501 whatever follows",
}


def exempted_by(key: str, route: Route) -> bool:
    """A key ending in ":" or "/" is a prefix of names; any other key is one name."""
    if key.endswith((":", "/")):
        return route.name.startswith(key)
    return route.name == key


def exempt(route: Route) -> bool:
    return any(exempted_by(key, route) for key in NOT_ORGANIZATION_SCOPED)


UI_ROUTES = [r for r in ROUTES if not exempt(r) and ORGANIZATION in r.parameters]
SCIM_ROUTES = [r for r in ROUTES if r.name in SCIM_RESOURCES]


def test_every_url_with_a_parameter_is_checked_or_says_why_not():
    unknown = [
        f"{route.name} ({route.path}): {', '.join(route.parameters)}"
        for route in ROUTES
        if not exempt(route)
        and route.name not in SCIM_RESOURCES
        and not (
            ORGANIZATION in route.parameters
            and set(route.parameters) - {ORGANIZATION} <= set(FILL)
        )
    ]
    assert unknown == [], (
        "These URLs take parameters the isolation matrix cannot fill: add them to "
        "FILL or SCIM_RESOURCES, or to NOT_ORGANIZATION_SCOPED with a reason."
    )
    assert UI_ROUTES and SCIM_ROUTES


def test_every_exemption_still_names_a_url():
    unused = [
        key
        for key in NOT_ORGANIZATION_SCOPED
        if not any(exempted_by(key, route) for route in ROUTES)
    ]
    assert unused == []


# ------------------------------------------------------------------------------ UI


@pytest.fixture
def ours(organization):
    return objects_of(organization)


@pytest.fixture
def theirs(db):
    return objects_of(helpers.make_organization("globex", domain="globex.example"))


def fillings(route: Route, objects: Objects, organization: Organization):
    """Every combination of `objects`' ids for the route's parameters."""
    names = [p for p in route.parameters if p != ORGANIZATION]
    for ids in itertools.product(*(FILL[name](objects) for name in names)):
        yield {ORGANIZATION: organization.slug, **dict(zip(names, ids, strict=True))}


def labels(objects: Objects) -> list[str]:
    return [
        objects.member.email,
        objects.invitee.email,
        objects.domain.domain,
        objects.token.name + " (",  # the token list shows "Entra (oa_scim_...)"
    ]


@pytest.mark.parametrize("route", UI_ROUTES, ids=lambda route: route.name)
def test_another_organizations_ids_answer_404_in_the_ui(
    route, owner_client, ours, theirs
):
    # B's ids under A's slug (when there are ids), and B's slug, where A's owner is
    # nobody.
    organizations = [theirs.organization]
    if set(route.parameters) != {ORGANIZATION}:
        organizations.append(ours.organization)
    for organization in organizations:
        for values in fillings(route, theirs, organization):
            url = route.url(values)
            answered_404 = False
            for method in ("get", "post"):
                response = getattr(owner_client, method)(url)
                if response.status_code == 405:
                    # Refused for the method whatever the id: A's own object too.
                    own = next(fillings(route, ours, ours.organization))
                    own_url = route.url(own)
                    assert getattr(owner_client, method)(own_url).status_code == 405
                    continue
                assert response.status_code == 404, (method.upper(), url)
                answered_404 = True
                page = response.content.decode()
                assert not [label for label in labels(theirs) if label in page]
            assert answered_404, url


# ---------------------------------------------------------------------------- SCIM


def scim_bodies(route: Route) -> dict[str, object]:
    resource = (
        helpers.user_body("someone@acme.example")
        if route.name == "scim:user"
        else {"schemas": [helpers.GROUP], "displayName": "Renamed"}
    )
    patch = {
        "schemas": [helpers.PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
    }
    return {"GET": None, "PUT": resource, "PATCH": patch, "DELETE": None}


@pytest.mark.parametrize("route", SCIM_ROUTES, ids=lambda route: route.name)
def test_another_organizations_scim_ids_answer_404(route, organization, theirs):
    scim = ScimClient(helpers.issue_token(organization))
    resource = SCIM_RESOURCES[route.name](theirs)
    model = Member if route.name == "scim:user" else Team
    before = model.objects.get(scim_id=resource)
    for method, body in scim_bodies(route).items():
        response = scim.request(method, route.url({"scim_id": resource}), body)
        helpers.assert_error(response, 404)
    after = model.objects.get(scim_id=resource)
    assert (after.version, after.display_name) == (before.version, before.display_name)
