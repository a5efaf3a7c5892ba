"""The SCIM 2.0 endpoint (RFC 7644): a ScimView base, then one class per endpoint.

Views authenticate (the token picks the organization), validate with scim.serializers
and scim.patch, fetch through scim.access, write through orgadmin.actions and answer
application/scim+json. Every request that reached an organization is logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from django.db.models import (
    F,
    Model,
    OrderBy,
    Prefetch,
    QuerySet,
    Value,
    prefetch_related_objects,
)
from django_scim.constants import SchemaURI
from rest_framework.response import Response
from rest_framework.views import APIView

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.client_ip import client_ip
from orgadmin.errors import VersionMismatch
from orgadmin.models import Member, ScimRequestLog, Team
from scim import access, filters
from scim.authentication import (
    ScimEnabledForOrganization,
    ScimTokenAuthentication,
    ScimTokenThrottle,
)
from scim.errors import (
    Forbidden,
    InvalidValue,
    NotFound,
    NotImplementedByServer,
    scim_exception_handler,
)
from scim.keys import get_any_case, lowercase_keys
from scim.parsers import PlainJSONParser, ScimJSONParser, load_body_without_length
from scim.patch import MemberChanges, apply_operations, parse_operations
from scim.renderers import AlwaysScimNegotiation, ScimJSONRenderer
from scim.request_log import loggable_path, record_request
from scim.schemas import (
    MAX_RESULTS,
    resource_type_documents,
    schema_documents,
    service_provider_config,
)
from scim.serializers import (
    GROUP,
    GROUP_SCHEMA,
    USER,
    USER_SCHEMA,
    Projection,
    canonical_document,
    changed_member_attributes,
    etag,
    list_response,
    member_attributes_from_scim,
    member_document,
    member_references,
    member_to_scim,
    require_schema,
    scim_base_url,
    team_attributes_from_scim,
    team_to_scim,
)


class ScimView(APIView):
    authentication_classes = [ScimTokenAuthentication]
    permission_classes = [ScimEnabledForOrganization]
    throttle_classes = [ScimTokenThrottle]
    parser_classes = [ScimJSONParser, PlainJSONParser]
    renderer_classes = [ScimJSONRenderer]
    content_negotiation_class = AlwaysScimNegotiation

    def get_exception_handler(self):
        return scim_exception_handler

    def dispatch(self, request, *args, **kwargs):
        started = time.monotonic()
        self.token = None
        self.outcome = ""
        response = super().dispatch(request, *args, **kwargs)
        if self.token is not None:
            detail = ""
            if response.status_code >= 300 and isinstance(response.data, dict):
                detail = str(response.data.get("detail", ""))
            record_request(
                self.token,
                method=request.method,
                path=loggable_path(request),
                status=response.status_code,
                duration_ms=int((time.monotonic() - started) * 1000),
                outcome=self.outcome if response.status_code < 300 else "",
                error_detail=detail,
            )
        return response

    def perform_authentication(self, request):
        super().perform_authentication(request)
        self.token = request.auth

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        load_body_without_length(request)

    @property
    def organization(self):
        return self.token.organization

    @property
    def actor(self) -> Actor:
        return Actor.for_scim_token(self.token, ip_address=client_ip(self.request))

    @property
    def parameters(self) -> dict[str, str]:
        """Query parameters by lower-case name: clients differ in their spelling."""
        return lowercase_keys(self.request.query_params)

    def projection(self, schema, source: dict | None = None) -> Projection:
        source = self.parameters if source is None else source
        return Projection.from_text(
            schema, source.get("attributes"), source.get("excludedattributes")
        )

    def resource_response(
        self, resource: dict, projection: Projection, *, version: int, status: int = 200
    ) -> Response:
        headers = {"ETag": etag(version)}
        if status == 201:
            headers["Location"] = resource["meta"]["location"]
        return Response(projection.apply(resource), status=status, headers=headers)

    def not_modified(self, version: int) -> bool:
        """RFC 7644 section 3.14: If-None-Match on GET."""
        header = self.request.META.get("HTTP_IF_NONE_MATCH", "")
        tags = {tag.strip() for tag in header.split(",") if tag.strip()}
        return "*" in tags or etag(version) in tags or f'"{version}"' in tags

    def if_match(self) -> frozenset[int] | None:
        """RFC 7644 section 3.14: the versions an If-Match on PUT, PATCH or DELETE
        accepts; None without the header or with "*". The action compares them under
        its row lock, so a stale tag is refused even when a write lands in between."""
        header = self.request.META.get("HTTP_IF_MATCH")
        if not header:
            return None
        tags = [tag.strip() for tag in header.split(",")]
        if "*" in tags:
            return None
        return frozenset(
            int(match[1]) for tag in tags if (match := _ETAG.fullmatch(tag))
        )


_ETAG = re.compile(r'(?:W/)?"([0-9]{1,18})"')


# ------------------------------------------------------------------------------- listing


class ListParameters:
    """startIndex, count, filter, sortBy and sortOrder (RFC 7644 section 3.4.2)."""

    def __init__(
        self, source: dict[str, Any], sortable: dict[str, str], schema_urn: str
    ):
        source = lowercase_keys(source)
        self.filter = source.get("filter") or ""
        if not isinstance(self.filter, str):
            raise InvalidValue("filter must be a string.")
        # RFC 7644 section 3.4.2.4: out-of-range values are clamped, not refused.
        self.start_index = max(1, _integer(source.get("startindex"), "startIndex", 1))
        self.count = min(
            max(0, _integer(source.get("count"), "count", MAX_RESULTS)), MAX_RESULTS
        )
        self.ordering = _ordering(
            source.get("sortby"), source.get("sortorder"), sortable, schema_urn
        )


_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")


def _integer(value: Any, name: str, default: int) -> int:
    """An integer from a query string or a .search body; 1.5, true or "x" are refused."""
    if value is None or value == "":
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise InvalidValue(f"{name} must be an integer, not {str(value)[:40]!r}.")


def _ordering(sort_by: Any, sort_order: Any, sortable: dict, schema_urn: str) -> list:
    descending = str(sort_order or "ascending").lower()
    if descending not in ("ascending", "descending"):
        raise InvalidValue('sortOrder must be "ascending" or "descending".')
    prefix = "-" if descending == "descending" else ""
    if not sort_by:
        return [f"{prefix}created_at", f"{prefix}pk"]
    # pk breaks ties so that pages stay stable.
    return [f"{prefix}{_sortable(sort_by, sortable, schema_urn)}", f"{prefix}pk"]


def _sortable(sort_by: Any, sortable: dict[str, Any], *schema_urns: str) -> Any:
    """What `sortable` says for a sortBy attribute, named with or without its URN."""
    key = str(sort_by).strip().lower()
    for urn in schema_urns:
        if key.startswith(urn.lower() + ":"):
            key = key[len(urn) + 1 :]
    if key not in sortable:
        raise InvalidValue(
            f'Cannot sort by "{sort_by}"; sortable: {", ".join(sorted(sortable))}.'
        )
    return sortable[key]


def page_of(queryset, parameters: ListParameters) -> tuple[int, list]:
    """The exact total and the requested page, in stable order.

    A first page shorter than `count` proves the total, so a lookup (Entra ID's
    `userName eq`, which finds one row or none) costs no COUNT.
    """
    offset = parameters.start_index - 1
    if offset == 0 and parameters.count:
        page = _page(queryset, parameters, 0)
        if len(page) < parameters.count:
            return len(page), page
        return queryset.count(), page
    total = queryset.count()
    # An offset past the end is an empty page, never a query: a huge startIndex
    # would overflow the database's integer.
    if not parameters.count or offset >= total:
        return total, []
    return total, _page(queryset, parameters, offset)


def _page(queryset, parameters: ListParameters, offset: int) -> list:
    """The page's rows, without joins. Past the first page, their primary keys come
    first, from the index on (organization, created_at, id) without reading rows, then
    those rows by primary key.

    Sorting the organization's whole rows joined to their managers, to skip all but the
    last hundred, made the end of a 100,000-member list 13 times slower than its start;
    and on a table just filled, before its statistics are gathered, the planner ran the
    join as a nested loop of seconds (bench/RESULTS.md).
    """
    ordered = queryset.order_by(*parameters.ordering)
    if offset == 0:
        return list(ordered[: parameters.count])
    pks = list(ordered.values_list("pk", flat=True)[offset : offset + parameters.count])
    rows = queryset.model._default_manager.in_bulk(pks)
    return [rows[pk] for pk in pks if pk in rows]


# What a User's enterprise `manager` shows of the manager (serializers.member_to_scim).
MANAGER_FIELDS = ("scim_id", "display_name", "email", "user_name")


class MemberListing(ScimView):
    def list_members(self, source: dict[str, Any]) -> Response:
        parameters = ListParameters(
            source, filters.SORTABLE_MEMBER_ATTRIBUTES, USER_SCHEMA
        )
        projection = self.projection(USER, source)
        queryset = Member.objects.for_organization(self.organization)
        if parameters.filter:
            queryset = filters.filter_members(queryset, parameters.filter)
        total, page = page_of(queryset, parameters)
        resources = self.members_to_scim(page, projection)
        return Response(
            list_response(resources, total=total, start_index=parameters.start_index)
        )

    def members_to_scim(
        self,
        members: list[Member],
        projection: Projection,
        *,
        teams: dict[int, list] | None = None,
    ) -> list:
        """SCIM Users; `teams` by member pk when the caller knows them (a new
        member has none), else they are read."""
        if projection.includes("emails"):
            # Skipped for members whose emails are already loaded (by the action that
            # wrote them, or the update that compared them).
            prefetch_related_objects(members, "email_addresses")
        # One small query, and none when no member on the page has a manager.
        prefetch_related_objects(
            members,
            Prefetch("manager", queryset=Member.objects.only(*MANAGER_FIELDS)),
        )
        if teams is None:
            teams = {}
            if members and projection.includes("groups"):
                teams = access.member_team_references(m.pk for m in members)
        return [
            projection.apply(
                member_to_scim(
                    member,
                    emails=[e.as_scim() for e in member.email_addresses.all()]
                    if projection.includes("emails")
                    else [],
                    groups=teams.get(member.pk, []),
                )
            )
            for member in members
        ]


class TeamListing(ScimView):
    def list_teams(self, source: dict[str, Any]) -> Response:
        parameters = ListParameters(
            source, filters.SORTABLE_TEAM_ATTRIBUTES, GROUP_SCHEMA
        )
        projection = self.projection(GROUP, source)
        queryset = Team.objects.for_organization(self.organization)
        if parameters.filter:
            queryset = filters.filter_teams(queryset, parameters.filter)
        total, page = page_of(queryset, parameters)
        resources = self.teams_to_scim(page, projection)
        return Response(
            list_response(resources, total=total, start_index=parameters.start_index)
        )

    def teams_to_scim(self, teams: list[Team], projection: Projection) -> list:
        members = None
        if teams and projection.includes("members"):
            members = access.team_member_references(team.pk for team in teams)
        return [
            projection.apply(
                team_to_scim(
                    team, members=None if members is None else members.get(team.pk, [])
                )
            )
            for team in teams
        ]


def _search_body(data: Any) -> dict[str, Any]:
    """A SearchRequest's parameters by lower-case name, as the query string's are."""
    body = lowercase_keys(require_schema(data, SchemaURI.SERACH_REQUEST))
    return {key: value for key, value in body.items() if key != "schemas"}


def page_across(
    members: QuerySet[Member],
    teams: QuerySet[Team],
    parameters: ListParameters,
    *,
    sort_fields: tuple[str | None, str | None],
    descending: bool,
) -> tuple[int, list[tuple[type[Member] | type[Team], int]]]:
    """The exact total and one page of (model, pk) over members and teams together.

    One UNION query orders both by the members' and the teams' sort field (a type
    without it sorts as unassigned: last ascending, first descending, RFC 7644
    section 3.4.2.3), then Users before Groups, then pk; descending reverses it all.
    """
    total = members.count() + teams.count()
    offset = parameters.start_index - 1
    if not parameters.count or offset >= total:
        return total, []
    member_field, team_field = sort_fields
    rows = _sort_rows(members, 0, _sort_value(member_field, Team, team_field))
    rows = rows.union(
        _sort_rows(teams, 1, _sort_value(team_field, Member, member_field)), all=True
    )
    ordered = rows.order_by(
        OrderBy(
            F("sort_value"),
            descending=descending,
            nulls_first=descending or None,
            nulls_last=not descending or None,
        ),
        OrderBy(F("type_order"), descending=descending),
        OrderBy(F("row"), descending=descending),
    )
    models = (Member, Team)
    return total, [
        (models[type_order], pk)
        for _, type_order, pk in ordered[offset : offset + parameters.count]
    ]


def _sort_value(field: str | None, other: type[Model], other_field: str | None):
    """The column to sort by, or NULL typed as the other type's column (so that both
    sides of the UNION agree) when this type lacks the attribute."""
    if field is not None:
        return F(field)
    return Value(None, output_field=other._meta.get_field(other_field).__class__())


def _sort_rows(queryset: QuerySet, type_order: int, sort_value) -> QuerySet:
    return (
        queryset.order_by()
        .annotate(sort_value=sort_value, type_order=Value(type_order), row=F("pk"))
        .values_list("sort_value", "type_order", "row")
    )


# --------------------------------------------------------------------------------- Users


class UserListView(MemberListing):
    def get(self, request):
        return self.list_members(self.parameters)

    def post(self, request):
        data = require_schema(request.data, USER_SCHEMA)
        attributes = member_attributes_from_scim(
            canonical_document(data, USER), organization=self.organization
        )
        member = actions.provision_member(
            self.organization, **attributes, actor=self.actor
        )
        self.outcome = ScimRequestLog.Outcome.CREATED
        # A member just created is in no team yet.
        return self.member_response(member, status=201, teams={})

    def member_response(
        self, member: Member, *, status: int = 200, teams: dict | None = None
    ) -> Response:
        projection = self.projection(USER)
        resource = self.members_to_scim([member], Projection(USER), teams=teams)[0]
        return self.resource_response(
            resource, projection, version=member.version, status=status
        )


class UserSearchView(MemberListing):
    def post(self, request):
        return self.list_members(_search_body(request.data))


class UserDetailView(UserListView):
    # POST is the list's; leaving it out keeps it out of the Allow header of a 405.
    http_method_names = ["get", "put", "patch", "delete", "head", "options"]

    def get(self, request, scim_id):
        member = access.scim_member(self.organization, scim_id)
        if self.not_modified(member.version):
            return Response(status=304, headers={"ETag": etag(member.version)})
        return self.member_response(member)

    def put(self, request, scim_id):
        document = canonical_document(require_schema(request.data, USER_SCHEMA), USER)
        member = self.update_member(scim_id, lambda member: document)
        return self.member_response(member)

    def patch(self, request, scim_id):
        operations = parse_operations(request.data)
        member = self.update_member(
            scim_id,
            lambda member: apply_operations(
                member_document(member, self.emails_of(member)), operations, USER
            ),
        )
        return self.member_response(member)

    def delete(self, request, scim_id):
        member = access.scim_member(self.organization, scim_id)
        actions.remove_member(
            member, expected_version=self.if_match(), actor=self.actor
        )
        self.outcome = ScimRequestLog.Outcome.DELETED
        return Response(status=204)

    def emails_of(self, member: Member) -> list[dict]:
        return [email.as_scim() for email in member.email_addresses.all()]

    def update_member(
        self, scim_id: str, new_document: Callable[[Member], dict[str, Any]]
    ) -> Member:
        """Write what differs between the member and the full User document made
        from it.

        The action writes only if the member is still at the version the document was
        made from (or at the client's If-Match). Without If-Match, a member changed in
        between is read again and the document made anew, so two PATCHes that each
        add a value never lose one another's.
        """
        if_match = self.if_match()
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            member = access.scim_member(self.organization, scim_id)
            # Read once: the document, the comparison and the answer all use them.
            prefetch_related_objects([member], "email_addresses")
            attributes = member_attributes_from_scim(
                new_document(member), organization=self.organization, member=member
            )
            changed = changed_member_attributes(
                member, self.emails_of(member), attributes
            )
            if not changed and if_match is None:
                return member
            was_active = member.is_active
            try:
                actions.update_member(
                    member,
                    **changed,
                    expected_version=member.version if if_match is None else if_match,
                    actor=self.actor,
                )
            except VersionMismatch:
                if if_match is not None or attempt == UPDATE_ATTEMPTS:
                    raise
                continue
            if not changed:
                return member
            if was_active == member.is_active:
                self.outcome = ScimRequestLog.Outcome.UPDATED
            else:
                self.outcome = (
                    ScimRequestLog.Outcome.REACTIVATED
                    if member.is_active
                    else ScimRequestLog.Outcome.DEACTIVATED
                )
            return member
        raise AssertionError("unreachable")


# A member changed by another request between the read and the write is read again;
# past this many tries the client is told to retry (412), which Entra ID and Okta do.
UPDATE_ATTEMPTS = 5


# -------------------------------------------------------------------------------- Groups


class GroupListView(TeamListing):
    def get(self, request):
        return self.list_teams(self.parameters)

    def post(self, request):
        data = canonical_document(require_schema(request.data, GROUP_SCHEMA), GROUP)
        attributes = team_attributes_from_scim(data)
        member_ids = access.member_pks(
            self.organization, member_references(data.get("members")), strict=True
        )
        team = actions.create_team(
            self.organization,
            **attributes,
            member_ids=member_ids,
            scim_managed=True,
            actor=self.actor,
        )
        self.outcome = ScimRequestLog.Outcome.CREATED
        return self.team_response(team, status=201)

    def team_response(self, team: Team, *, status: int = 200) -> Response:
        projection = self.projection(GROUP)
        members = None
        if projection.includes("members"):
            members = access.team_member_references([team.pk]).get(team.pk, [])
        return self.resource_response(
            team_to_scim(team, members=members),
            projection,
            version=team.version,
            status=status,
        )


class GroupSearchView(TeamListing):
    def post(self, request):
        return self.list_teams(_search_body(request.data))


class GroupDetailView(GroupListView):
    http_method_names = ["get", "put", "patch", "delete", "head", "options"]

    def get(self, request, scim_id):
        team = access.scim_team(self.organization, scim_id)
        if self.not_modified(team.version):
            return Response(status=304, headers={"ETag": etag(team.version)})
        return self.team_response(team)

    def put(self, request, scim_id):
        data = canonical_document(require_schema(request.data, GROUP_SCHEMA), GROUP)
        attributes = team_attributes_from_scim(data)
        team = access.scim_team(self.organization, scim_id)
        # A PUT without "members" leaves them alone rather than emptying the team.
        if "members" in data:
            attributes["replace_member_ids"] = access.member_pks(
                self.organization, member_references(data["members"]), strict=True
            )
        actions.update_team(
            team, **attributes, expected_version=self.if_match(), actor=self.actor
        )
        self.outcome = ScimRequestLog.Outcome.UPDATED
        return self.team_response(team)

    def patch(self, request, scim_id):
        operations = parse_operations(request.data)
        team = access.scim_team(self.organization, scim_id)
        document = {"displayName": team.display_name}
        if team.external_id:
            document["externalId"] = team.external_id
        members = MemberChanges()
        apply_operations(document, operations, GROUP, members=members)
        changes = {
            key: value
            for key, value in team_attributes_from_scim(document).items()
            if getattr(team, key) != value
        }
        changes.update(self.membership_changes(members))
        if changes or self.if_match() is not None:
            actions.update_team(
                team, **changes, expected_version=self.if_match(), actor=self.actor
            )
        if changes:
            self.outcome = ScimRequestLog.Outcome.UPDATED
        # Entra ID expects 204 from a group PATCH; the resource only when asked for.
        parameters = self.parameters
        if "attributes" in parameters or "excludedattributes" in parameters:
            return self.team_response(team)
        return Response(status=204)

    def membership_changes(self, members: MemberChanges) -> dict[str, list[int]]:
        """Member pks to add, remove or replace. Removing a member that is already gone
        is not an error: Entra ID removes users it has just deleted."""
        organization = self.organization
        changes = {}
        if members.add:
            changes["add_member_ids"] = access.member_pks(
                organization, members.add, strict=True
            )
        if members.remove:
            changes["remove_member_ids"] = access.member_pks(
                organization, members.remove, strict=False
            )
        if members.replace is not None:
            changes["replace_member_ids"] = access.member_pks(
                organization, members.replace, strict=True
            )
        return changes

    def delete(self, request, scim_id):
        team = access.scim_team(self.organization, scim_id)
        actions.delete_team(team, expected_version=self.if_match(), actor=self.actor)
        self.outcome = ScimRequestLog.Outcome.DELETED
        return Response(status=204)


# --------------------------------------------------------------------------- root search


class RootSearchView(MemberListing, TeamListing):
    """POST /.search (RFC 7644 section 3.4.3): Users and Groups in one ListResponse.

    The filter applies to each resource type; an attribute only one type has matches
    nothing in the other (`userName sw "a"` finds no group). `attributes` and
    `excludedAttributes` apply to each type likewise. Both types form one list, in the
    order page_across() gives (meta.created unless sortBy says otherwise); startIndex
    and count page through it and totalResults counts both.
    """

    def post(self, request):
        source = _search_body(request.data)
        sort_by = source.pop("sortby", None)
        parameters = ListParameters(source, {}, USER_SCHEMA)
        members = Member.objects.for_organization(self.organization)
        teams = Team.objects.for_organization(self.organization)
        if parameters.filter:
            members, teams = filters.filter_members_and_teams(
                members, teams, parameters.filter
            )
        total, page = page_across(
            members,
            teams,
            parameters,
            sort_fields=_sort_fields_across(sort_by),
            descending=str(source.get("sortorder")).lower() == "descending",
        )
        resources = self.resources(page, source)
        return Response(
            list_response(resources, total=total, start_index=parameters.start_index)
        )

    def resources(self, page: list, source: dict[str, Any]) -> list[dict]:
        """Serialize the page's members and teams (a few queries each), in its order."""
        pks = {Member: [], Team: []}
        for model, pk in page:
            pks[model].append(pk)
        members = list(Member.objects.filter(pk__in=pks[Member]))
        teams = list(Team.objects.filter(pk__in=pks[Team]))
        serialized = dict(
            zip(
                [(Member, member.pk) for member in members],
                self.members_to_scim(members, self.projection(USER, source)),
                strict=True,
            )
        )
        serialized.update(
            zip(
                [(Team, team.pk) for team in teams],
                self.teams_to_scim(teams, self.projection(GROUP, source)),
                strict=True,
            )
        )
        return [serialized[key] for key in page]


def _sort_fields_across(sort_by: Any) -> tuple[str | None, str | None]:
    """The member's and the team's field for sortBy; meta.created when none is given."""
    if not sort_by:
        return "created_at", "created_at"
    return _sortable(
        sort_by, filters.SORTABLE_ACROSS_ATTRIBUTES, USER_SCHEMA, GROUP_SCHEMA
    )


# ----------------------------------------------------------------------------- discovery


class DiscoveryView(ScimView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if "filter" in self.parameters:
            # RFC 7644 section 4: discovery endpoints are not filterable.
            raise Forbidden("Discovery endpoints do not support filtering.")


class ServiceProviderConfigView(DiscoveryView):
    def get(self, request):
        return Response(service_provider_config())


class ResourceTypeView(DiscoveryView):
    def get(self, request, resource_id=None):
        return _discovery_response(resource_type_documents(), resource_id)


class SchemaView(DiscoveryView):
    def get(self, request, resource_id=None):
        return _discovery_response(schema_documents(), resource_id)


def _discovery_response(
    documents: dict[str, dict], resource_id: str | None
) -> Response:
    if resource_id is None:
        resources = list(documents.values())
        return Response(list_response(resources, total=len(resources), start_index=1))
    document = get_any_case(documents, resource_id)
    if document is None:
        raise NotFound(f'No "{resource_id}" here.')
    return Response(document)


class NotImplementedView(ScimView):
    """/Bulk and /Me: stated as unsupported in /ServiceProviderConfig."""

    def dispatch_not_implemented(self, request, *args, **kwargs):
        raise NotImplementedByServer(
            f"{request.path.rsplit('/', 1)[-1] or 'This endpoint'} is not supported "
            f"by this service; see {scim_base_url()}/ServiceProviderConfig."
        )

    get = post = put = patch = delete = dispatch_not_implemented


class UnknownEndpointView(ScimView):
    """Any other URL under /scim/v2/: a SCIM 404, never Django's HTML page."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    def answer_not_found(self, request, *args, **kwargs):
        raise NotFound(f"There is no SCIM endpoint at {request.path}.")

    get = post = put = patch = delete = answer_not_found
