"""The SCIM 2.0 endpoint (RFC 7644): a ScimView base, then one class per endpoint.

Views authenticate (the token picks the organization), validate with scim.serializers
and scim.patch, fetch through scim.access, write through orgadmin.actions and answer
application/scim+json. Every request that reached an organization is logged.
"""

from __future__ import annotations

import re
import time
from typing import Any

from django.db import transaction
from django.db.models import prefetch_related_objects
from django_scim.constants import SchemaURI
from rest_framework.response import Response
from rest_framework.views import APIView

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.models import Member, Team
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
    PreconditionFailed,
    scim_exception_handler,
)
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
        return Actor.for_scim_token(
            self.token, ip_address=self.request.META.get("REMOTE_ADDR")
        )

    @property
    def parameters(self) -> dict[str, str]:
        """Query parameters by lower-case name: clients differ in their spelling."""
        return {key.lower(): value for key, value in self.request.query_params.items()}

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

    def check_if_match(self, version: int) -> None:
        """RFC 7644 section 3.14: If-Match on PUT, PATCH and DELETE."""
        header = self.request.META.get("HTTP_IF_MATCH")
        if not header:
            return
        tags = {tag.strip() for tag in header.split(",")}
        if not ({"*", etag(version), f'"{version}"'} & tags):
            raise PreconditionFailed(
                f"The resource is at version {etag(version)}; read it again."
            )


# ------------------------------------------------------------------------------- listing


class ListParameters:
    """startIndex, count, filter, sortBy and sortOrder (RFC 7644 section 3.4.2)."""

    def __init__(
        self, source: dict[str, Any], sortable: dict[str, str], schema_urn: str
    ):
        source = {str(k).lower(): v for k, v in source.items()}
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
    key = str(sort_by).strip().lower()
    if key.startswith(schema_urn.lower() + ":"):
        key = key[len(schema_urn) + 1 :]
    if key not in sortable:
        raise InvalidValue(
            f'Cannot sort by "{sort_by}"; sortable: {", ".join(sorted(sortable))}.'
        )
    # pk breaks ties so that pages stay stable.
    return [f"{prefix}{sortable[key]}", f"{prefix}pk"]


def page_of(queryset, parameters: ListParameters) -> tuple[int, list]:
    """The exact total and the requested page, in stable order."""
    total = queryset.count()
    offset = parameters.start_index - 1
    # An offset past the end is an empty page, never a query: a huge startIndex
    # would overflow the database's integer.
    if not parameters.count or offset >= total:
        return total, []
    ordered = queryset.order_by(*parameters.ordering)
    return total, list(ordered[offset : offset + parameters.count])


class MemberListing(ScimView):
    def list_members(self, source: dict[str, Any]) -> Response:
        parameters = ListParameters(
            source, filters.SORTABLE_MEMBER_ATTRIBUTES, USER_SCHEMA
        )
        projection = self.projection(USER, source)
        queryset = Member.objects.for_organization(self.organization)
        if parameters.filter:
            queryset = filters.filter_members(queryset, parameters.filter)
        total, page = page_of(queryset.select_related("manager"), parameters)
        resources = self.members_to_scim(page, projection)
        return Response(
            list_response(resources, total=total, start_index=parameters.start_index)
        )

    def members_to_scim(self, members: list[Member], projection: Projection) -> list:
        if projection.includes("emails"):
            prefetch_related_objects(members, "email_addresses")
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
        members = None
        if page and projection.includes("members"):
            members = access.team_member_references(team.pk for team in page)
        resources = [
            projection.apply(
                team_to_scim(
                    team, members=None if members is None else members.get(team.pk, [])
                )
            )
            for team in page
        ]
        return Response(
            list_response(resources, total=total, start_index=parameters.start_index)
        )


def _search_body(data: Any) -> dict[str, Any]:
    body = require_schema(data, SchemaURI.SERACH_REQUEST)
    return {key: value for key, value in body.items() if key != "schemas"}


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
            self.organization, attributes=attributes, actor=self.actor
        )
        self.outcome = "created"
        return self.member_response(member, status=201)

    def member_response(self, member: Member, *, status: int = 200) -> Response:
        projection = self.projection(USER)
        resource = self.members_to_scim([member], Projection(USER))[0]
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
        data = require_schema(request.data, USER_SCHEMA)
        with transaction.atomic():
            member = access.scim_member(self.organization, scim_id, for_update=True)
            self.check_if_match(member.version)
            self.update(member, canonical_document(data, USER))
        return self.member_response(member)

    def patch(self, request, scim_id):
        operations = parse_operations(request.data)
        with transaction.atomic():
            member = access.scim_member(self.organization, scim_id, for_update=True)
            self.check_if_match(member.version)
            document = member_document(member, self.emails_of(member))
            self.update(member, apply_operations(document, operations, USER))
        return self.member_response(member)

    def delete(self, request, scim_id):
        with transaction.atomic():
            member = access.scim_member(self.organization, scim_id, for_update=True)
            self.check_if_match(member.version)
            actions.remove_member(member, actor=self.actor)
        self.outcome = "deleted"
        return Response(status=204)

    def emails_of(self, member: Member) -> list[dict]:
        return [email.as_scim() for email in member.email_addresses.all()]

    def update(self, member: Member, document: dict[str, Any]) -> None:
        """Write what differs between the member and a full User document."""
        attributes = member_attributes_from_scim(
            document, organization=self.organization, member=member
        )
        changed = changed_member_attributes(member, self.emails_of(member), attributes)
        if not changed:
            return
        was_active = member.is_active
        actions.update_member(member, attributes=changed, actor=self.actor)
        if was_active == member.is_active:
            self.outcome = "updated"
        else:
            self.outcome = "reactivated" if member.is_active else "deactivated"


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
        self.outcome = "created"
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
        with transaction.atomic():
            team = access.scim_team(self.organization, scim_id, for_update=True)
            self.check_if_match(team.version)
            # A PUT without "members" leaves them alone rather than emptying the team.
            replace = None
            if "members" in data:
                replace = access.member_pks(
                    self.organization, member_references(data["members"]), strict=True
                )
            actions.update_team(
                team, **attributes, replace_member_ids=replace, actor=self.actor
            )
        self.outcome = "updated"
        return self.team_response(team)

    def patch(self, request, scim_id):
        operations = parse_operations(request.data)
        with transaction.atomic():
            team = access.scim_team(self.organization, scim_id, for_update=True)
            self.check_if_match(team.version)
            document = {"displayName": team.display_name}
            if team.external_id:
                document["externalId"] = team.external_id
            changes = MemberChanges()
            apply_operations(document, operations, GROUP, members=changes)
            attributes = team_attributes_from_scim(document)
            renamed = {
                key: value
                for key, value in attributes.items()
                if getattr(team, key) != value
            }
            if renamed or not changes.is_empty:
                organization = self.organization
                replace = None
                if changes.replace is not None:
                    replace = access.member_pks(
                        organization, changes.replace, strict=True
                    )
                actions.update_team(
                    team,
                    **renamed,
                    add_member_ids=access.member_pks(
                        organization, changes.add, strict=True
                    ),
                    remove_member_ids=access.member_pks(
                        organization, changes.remove, strict=False
                    ),
                    replace_member_ids=replace,
                    actor=self.actor,
                )
                self.outcome = "updated"
        # Entra ID expects 204 from a group PATCH; the resource only when asked for.
        parameters = self.parameters
        if "attributes" in parameters or "excludedattributes" in parameters:
            return self.team_response(team)
        return Response(status=204)

    def delete(self, request, scim_id):
        with transaction.atomic():
            team = access.scim_team(self.organization, scim_id, for_update=True)
            self.check_if_match(team.version)
            actions.delete_team(team, actor=self.actor)
        self.outcome = "deleted"
        return Response(status=204)


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
    document = documents.get(resource_id) or next(
        (d for key, d in documents.items() if key.lower() == resource_id.lower()), None
    )
    if document is None:
        raise NotFound(f'No "{resource_id}" here.')
    return Response(document)


class NotImplementedView(ScimView):
    """/Bulk, /Me and root searches: stated as unsupported in /ServiceProviderConfig."""

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
