"""The SCIM resource schema, described once: each attribute of User (core and the
enterprise extension) and Group, with how it is stored, filtered and sorted.

scim.serializers validates and builds resources from it, scim.filters compiles filters
and sortBy from it, and scim.schemas publishes it as /Schemas (RFC 7643 section 7).
Adding an attribute is one entry in USER or GROUP below, plus a model field (and its
migration) when it needs storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django_scim.constants import SchemaURI

from orgadmin.models import MemberEmail, TeamMembership

USER_SCHEMA = SchemaURI.USER
ENTERPRISE_SCHEMA = SchemaURI.ENTERPRISE_USER
GROUP_SCHEMA = SchemaURI.GROUP

# Attribute types (RFC 7643 section 2.3).
STRING = "string"
BOOLEAN = "boolean"
DATETIME = "dateTime"
REFERENCE = "reference"
BINARY = "binary"  # base64 text (RFC 7643 section 2.3.6)

# Characteristics (RFC 7643 section 7).
READ_WRITE = "readWrite"
READ_ONLY = "readOnly"
IMMUTABLE = "immutable"
ALWAYS = "always"
DEFAULT = "default"
NONE = "none"
SERVER = "server"

COMPLEX = "complex"  # the type of an attribute with sub-attributes

# The values one user may have in each multi-valued attribute (emails, phoneNumbers,
# addresses, roles...). No directory sends more than a handful; without a cap, one
# request could make every list page and audit event megabytes long. A group's members
# are not capped: a group of thousands is normal.
MAX_MULTI_VALUED_ITEMS = 100

# How an attribute is shaped (Attribute.kind), for PATCH paths and projections.
SIMPLE = "simple"  # a single value: string, boolean, dateTime...
MULTI = "multi"  # a list of objects (emails, members...); a single object is COMPLEX


@dataclass(frozen=True)
class Rows:
    """A multi-valued attribute kept as rows related to the resource (filterable)."""

    model: type[models.Model]
    link: str  # the rows' foreign key to the resource


@dataclass(frozen=True)
class Filter:
    """How the filter compiler reaches an attribute.

    `orm` is a path from the resource's model, or from the rows' model for a
    sub-attribute of a multi-valued attribute kept as rows; a complex attribute lists
    the fields of its sub-attributes and can only be tested with `pr`. The comparison
    follows the attribute's type and caseExact, except for `scim_id` paths: SCIM ids
    (UUIDs) compare with eq, ne and pr only.
    """

    orm: str | tuple[str, ...]
    scim_id: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class Attribute:
    """One attribute (or sub-attribute) of a resource.

    `field` is the Member or Team field that stores it: a column for a single value, a
    JSON list of objects for a multi-valued attribute without `rows`, or for the
    enterprise manager (a single complex attribute) the foreign key to the other
    Member. `sort` is the resource model's field for sortBy; None when not sortable.
    """

    name: str
    type: str = STRING
    description: str = ""
    multi_valued: bool = False
    sub_attributes: tuple[Attribute, ...] = ()
    required: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = DEFAULT
    uniqueness: str = NONE
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    field: str | None = None
    rows: Rows | None = None
    filter: Filter | None = None
    sort: str | None = None
    # RFC 7643 section 3.1 describes meta for every resource; schemas do not list it.
    published: bool = True

    @property
    def kind(self) -> str:
        if self.multi_valued:
            return MULTI
        return COMPLEX if self.type == COMPLEX else SIMPLE

    @property
    def read_only(self) -> bool:
        return self.mutability == READ_ONLY

    def canonical_sub(self, name: str) -> str | None:
        sub = self.sub(name)
        return sub.name if sub else None

    def sub(self, name: str) -> Attribute | None:
        lowered = name.lower()
        return next((s for s in self.sub_attributes if s.name.lower() == lowered), None)


@dataclass(frozen=True)
class ResourceSchema:
    """The attributes of one resource type; the extension's live under its URN key."""

    name: str  # the resource type: "User", "Group"
    core_urn: str
    core: dict[str, Attribute]
    description: str = ""
    extension_urn: str | None = None
    extension: dict[str, Attribute] = field(default_factory=dict)
    # RFC 7643 attributes accepted and ignored: not stored, so never filtered or shown.
    not_stored: frozenset[str] = frozenset()

    def lookup(self, namespace: str | None, name: str) -> Attribute | None:
        attributes = self.extension if namespace == self.extension_urn else self.core
        return attributes.get(name.lower())

    def find(self, name: str) -> tuple[str | None, Attribute] | None:
        """Resolve an unqualified name: the core schema first, then the extension."""
        if name.lower() in self.core:
            return None, self.core[name.lower()]
        if name.lower() in self.extension:
            return self.extension_urn, self.extension[name.lower()]
        return None

    def namespaces(self) -> list[tuple[str, dict[str, Attribute]]]:
        """Each schema URN with its attributes: the core schema, then the extension."""
        schemas = [(self.core_urn, self.core)]
        if self.extension_urn:
            schemas.append((self.extension_urn, self.extension))
        return schemas


# ------------------------------------------------------------------------ constructors


def string(name: str, model_field: str | None = None, **options) -> Attribute:
    """A string kept in a column: filterable and sortable by that column."""
    if model_field:
        options.setdefault("filter", Filter(model_field))
        options.setdefault("sort", model_field)
    return Attribute(name, STRING, field=model_field, **options)


def boolean(name: str, model_field: str | None = None, **options) -> Attribute:
    if model_field:
        options.setdefault("filter", Filter(model_field))
        options.setdefault("sort", model_field)
    return Attribute(name, BOOLEAN, field=model_field, **options)


def complex_(name: str, *subs: Attribute, **options) -> Attribute:
    return Attribute(name, COMPLEX, sub_attributes=subs, **options)


def multi(name: str, *subs: Attribute, **options) -> Attribute:
    """A multi-valued complex attribute; with a JSON `field`, `pr` is its only filter."""
    if options.get("field") and not options.get("rows"):
        options.setdefault("filter", Filter(options["field"]))
    return Attribute(name, COMPLEX, multi_valued=True, sub_attributes=subs, **options)


def _type(types: tuple[str, ...] = ()) -> Attribute:
    return Attribute(
        "type",
        description="A label of its function, e.g. work.",
        canonical_values=types,
    )


_DISPLAY = Attribute("display", description="A human-readable name for display.")
_PRIMARY = Attribute(
    "primary", BOOLEAN, description="Whether this is the primary value; at most one is."
)


def _plural(
    name: str,
    model_field: str,
    description: str,
    *,
    value: Attribute | None = None,
    types: tuple[str, ...] = (),
) -> Attribute:
    """A multi-valued attribute kept on the member as a JSON list of SCIM objects."""
    value = value or Attribute("value", description=description)
    return multi(
        name,
        value,
        _DISPLAY,
        _type(types),
        _PRIMARY,
        field=model_field,
        description=description,
    )


# ---------------------------------------------------------------------------- common

ID = Attribute(
    "id",
    description="The service provider's unique, permanent identifier of the resource.",
    case_exact=True,
    mutability=READ_ONLY,
    returned=ALWAYS,
    uniqueness=SERVER,
    filter=Filter("scim_id", scim_id=True),
    sort="scim_id",
)
EXTERNAL_ID = string(
    "externalId",
    "external_id",
    description="The identifier of the resource in the provisioning client.",
    case_exact=True,
    filter=Filter("external_id", nullable=True),
)
META = complex_(
    "meta",
    Attribute("resourceType", mutability=READ_ONLY, case_exact=True),
    Attribute(
        "created",
        DATETIME,
        mutability=READ_ONLY,
        filter=Filter("created_at"),
        sort="created_at",
    ),
    Attribute(
        "lastModified",
        DATETIME,
        mutability=READ_ONLY,
        filter=Filter("updated_at"),
        sort="updated_at",
    ),
    Attribute("location", REFERENCE, mutability=READ_ONLY, case_exact=True),
    Attribute("version", mutability=READ_ONLY, case_exact=True),
    mutability=READ_ONLY,
    published=False,
)


def _attributes(*attributes: Attribute) -> dict[str, Attribute]:
    return {attribute.name.lower(): attribute for attribute in attributes}


# ------------------------------------------------------------------------------ User

_NAME_SUBS = (
    string("formatted", "formatted_name", description="The full name, formatted."),
    string("familyName", "family_name", description="The family (last) name."),
    string("givenName", "given_name", description="The given (first) name."),
    string("middleName", "middle_name", description="The middle name(s)."),
    string("honorificPrefix", "honorific_prefix", description="For example Ms."),
    string("honorificSuffix", "honorific_suffix", description="For example III."),
)

USER = ResourceSchema(
    name="User",
    core_urn=USER_SCHEMA,
    description="User Account",
    core=_attributes(
        ID,
        EXTERNAL_ID,
        string(
            "userName",
            "user_name",
            description="The unique identifier the user signs in with. REQUIRED.",
            required=True,
            uniqueness=SERVER,
        ),
        complex_(
            "name",
            *_NAME_SUBS,
            description="The components of the user's name.",
            filter=Filter(tuple(sub.field for sub in _NAME_SUBS)),
        ),
        string("displayName", "display_name", description="The name to display."),
        string("nickName", "nick_name", description="The casual name."),
        string("title", "title", description="The user's title, e.g. Vice President."),
        string("userType", "user_type", description="E.g. Employee, Contractor."),
        string(
            "preferredLanguage",
            "preferred_language",
            description="The preferred language, e.g. en-US.",
        ),
        string("locale", "locale", description="The default location, e.g. en-US."),
        string("timezone", "timezone", description="E.g. America/Los_Angeles."),
        boolean("active", "is_active", description="Whether the user may sign in."),
        multi(
            "emails",
            # Fields of MemberEmail rows; the member sorts by its computed work email,
            # its primary value (RFC 7644 section 3.4.2.3).
            string("value", "value", description="An email address.", sort="email"),
            string("display", "display", description="A name for display.", sort=None),
            string(
                "type",
                "type",
                description="A label such as work or home.",
                canonical_values=("work", "home", "other"),
                sort=None,
            ),
            boolean("primary", "primary", description="The primary one.", sort=None),
            description="Email addresses for the user.",
            rows=Rows(MemberEmail, "member"),
            sort="email",
        ),
        _plural(
            "phoneNumbers",
            "phone_numbers",
            "Phone numbers for the user.",
            types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _plural(
            "ims",
            "ims",
            "Instant messaging addresses for the user.",
            types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _plural(
            "photos",
            "photos",
            "URLs of photos of the user.",
            value=Attribute(
                "value",
                REFERENCE,
                description="The URL of a photo of the user.",
                reference_types=("external",),
            ),
            types=("photo", "thumbnail"),
        ),
        multi(
            "addresses",
            *(
                Attribute(sub, description=description)
                for sub, description in (
                    ("formatted", "The full mailing address, formatted."),
                    ("streetAddress", "The street address."),
                    ("locality", "The city or locality."),
                    ("region", "The state or region."),
                    ("postalCode", "The zip code or postal code."),
                    ("country", "The country."),
                )
            ),
            _type(("work", "home", "other")),
            _PRIMARY,
            field="addresses",
            description="Physical mailing addresses for the user.",
        ),
        multi(
            "groups",
            Attribute(
                "value",
                description="The group's id.",
                mutability=READ_ONLY,
                filter=Filter("team__scim_id", scim_id=True),
            ),
            Attribute(
                "$ref",
                REFERENCE,
                description="The group's URI.",
                mutability=READ_ONLY,
                reference_types=("User", "Group"),
            ),
            Attribute(
                "display",
                description="The group's displayName.",
                mutability=READ_ONLY,
                filter=Filter("team__display_name"),
            ),
            Attribute(
                "type",
                description="Direct membership (groups do not nest here).",
                mutability=READ_ONLY,
                canonical_values=("direct", "indirect"),
            ),
            description="The groups the user belongs to (change them on the group).",
            mutability=READ_ONLY,
            rows=Rows(TeamMembership, "member"),
        ),
        _plural("entitlements", "entitlements", "Things the user is entitled to."),
        _plural("roles", "roles", "Roles of the user (Entra ID app roles)."),
        _plural(
            "x509Certificates",
            "x509_certificates",
            "Certificates issued to the user.",
            value=Attribute(
                "value",
                BINARY,
                description="A DER-encoded X.509 certificate, base64.",
                case_exact=True,
            ),
        ),
        META,
    ),
    extension_urn=ENTERPRISE_SCHEMA,
    extension=_attributes(
        string("employeeNumber", "employee_number", description="The employee id."),
        string("costCenter", "cost_center", description="The cost center."),
        string(
            "organization", "organization_name", description="The organization name."
        ),
        string("division", "division", description="The division."),
        string("department", "department", description="The department."),
        complex_(
            "manager",
            Attribute(
                "value",
                description="The manager's id.",
                filter=Filter("manager__scim_id", scim_id=True, nullable=True),
            ),
            Attribute(
                "$ref",
                REFERENCE,
                description="The manager's URI.",
                reference_types=("User",),
            ),
            Attribute(
                "displayName",
                description="The manager's displayName.",
                mutability=READ_ONLY,
            ),
            description="The user's manager, another user of the organization.",
            field="manager",
            # Entra ID filters on the manager as a bare id as well as on its value.
            filter=Filter("manager__scim_id", scim_id=True, nullable=True),
        ),
    ),
    not_stored=frozenset({"password", "profileUrl"}),
)

# ----------------------------------------------------------------------------- Group

GROUP = ResourceSchema(
    name="Group",
    core_urn=GROUP_SCHEMA,
    description="Group",
    core=_attributes(
        ID,
        EXTERNAL_ID,
        # RFC 7643 section 4.2 calls displayName REQUIRED (a team needs a name),
        # though the schema in its section 8.7.1 says otherwise.
        string(
            "displayName",
            "display_name",
            description="The group's name. REQUIRED.",
            required=True,
        ),
        multi(
            "members",
            Attribute(
                "value",
                description="The member's id.",
                mutability=IMMUTABLE,
                filter=Filter("member__scim_id", scim_id=True),
            ),
            Attribute(
                "$ref",
                REFERENCE,
                description="The member's URI.",
                mutability=IMMUTABLE,
                reference_types=("User", "Group"),
            ),
            Attribute(
                "type",
                description="The member's resource type.",
                mutability=IMMUTABLE,
                canonical_values=("User", "Group"),
            ),
            Attribute(
                "display",
                description="The member's displayName, else its userName.",
                mutability=READ_ONLY,
            ),
            description="The group's members.",
            rows=Rows(TeamMembership, "team"),
        ),
        META,
    ),
)

RESOURCE_SCHEMAS = (USER, GROUP)
