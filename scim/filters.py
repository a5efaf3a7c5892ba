"""Compile SCIM filter expressions (RFC 7644 section 3.4.2.2) into Django queries.

scim2-filter-parser's lexer and parser build the syntax tree; this module walks it with a
strict attribute table, so an unknown attribute is an error rather than silently dropped
(django-scim2's transpilers drop it, which turns `and` into a wider match). Three defects
of the parser are corrected here: string values may contain escaped quotes, numbers may
have more than one digit, and "and" binds tighter than "or" (the parser gives both the same
precedence, so `a or b and c` would mean `(a or b) and c`).

The compiled `Q` only ever narrows the queryset it is applied to, so a filter cannot reach
another organization's rows whatever it says. Multi-valued attributes (emails, groups,
members) become EXISTS subqueries: rows are never duplicated, counts stay exact and
`not (emails co "x")` matches a member with no email at all.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db.models import Exists, F, Model, OuterRef, Q, QuerySet, Value
from django.db.models.fields import CharField
from django.db.models.functions import Lower, Right, StrIndex, Substr
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)
from django.utils.dateparse import parse_datetime
from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from orgadmin.models import Member, Team
from scim.errors import InvalidFilter
from scim.limits import MAX_COMPARISONS, MAX_FILTER_LENGTH, MAX_FILTER_NESTING
from scim.parsers import check_storable
from scim.resource_schema import (
    BOOLEAN,
    COMPLEX,
    DATETIME,
    GROUP,
    MULTI,
    USER,
    Attribute,
    ResourceSchema,
)


def filter_members(queryset: QuerySet[Member], text: str) -> QuerySet[Member]:
    """Narrow `queryset` (already one organization's members) by a SCIM User filter."""
    return queryset.filter(_compile(text, _USER))


def filter_teams(queryset: QuerySet[Team], text: str) -> QuerySet[Team]:
    """Narrow `queryset` (already one organization's teams) by a SCIM Group filter."""
    return queryset.filter(_compile(text, _GROUP))


def filter_members_and_teams(
    members: QuerySet[Member], teams: QuerySet[Team], text: str
) -> tuple[QuerySet[Member], QuerySet[Team]]:
    """Narrow both by one filter, for a search across resource types (RFC 7644
    section 3.4.3): an attribute only the other resource type has matches nothing."""
    return (
        members.filter(_compile(text, _USER_ACROSS)),
        teams.filter(_compile(text, _GROUP_ACROSS)),
    )


# ------------------------------------------------------------------------ attribute table
# Built from scim.resource_schema, which says what each attribute is and where it lives.


class _Kind(enum.Enum):
    TEXT = "string"  # caseExact false (RFC 7643): compared case-insensitively
    EXACT_TEXT = "case-exact string"
    BOOLEAN = "boolean"
    DATETIME = "dateTime"
    REFERENCE = "reference"  # a UUID (our SCIM ids): eq, ne and pr only
    LIST = "multi-valued attribute"  # kept as JSON: only pr is cheap
    COMPLEX = "complex attribute"  # "name": only pr, over its sub-attributes


_OPERATORS_BY_KIND = {
    _Kind.TEXT: {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"},
    _Kind.EXACT_TEXT: {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"},
    _Kind.BOOLEAN: {"eq", "ne", "pr"},
    _Kind.DATETIME: {"eq", "ne", "gt", "ge", "lt", "le", "pr"},
    _Kind.REFERENCE: {"eq", "ne", "pr"},
    _Kind.LIST: {"pr"},
    _Kind.COMPLEX: {"pr"},
}


@dataclass(frozen=True)
class _Attribute:
    path: str  # the SCIM spelling, for messages
    fields: tuple[str, ...]  # ORM paths; several only for a complex attribute
    kind: _Kind
    urn: str  # its schema, which a URN-qualified path must name
    nullable: bool = False
    # In a search across resource types, an attribute only the other type has: it is
    # checked like any other, then matches nothing.
    absent: bool = False

    @property
    def field(self) -> str:
        return self.fields[0]


@dataclass(frozen=True)
class _MultiValued:
    """A multi-valued complex attribute stored as rows related to the resource."""

    path: str
    rows: type[Model]
    link: str  # the rows' foreign key to the resource
    sub_attributes: dict[str, _Attribute]
    urn: str
    # RFC 7644 3.4.2.2: `emails co "x"` filters on the "value" sub-attribute.
    default: str = "value"
    absent: bool = False

    def exists(self, condition: Q) -> Q:
        if self.absent:
            return Q(pk__in=[])
        rows = self.rows._default_manager.filter(**{self.link: OuterRef("pk")})
        return Q(Exists(rows.filter(condition)))


@dataclass(frozen=True)
class _Resource:
    name: str
    urn: str
    attributes: dict[str, _Attribute]
    multi_valued: dict[str, _MultiValued]
    # Attributes of the schema that exist but cannot be filtered on.
    unfilterable: frozenset[str]


def _kind(attribute: Attribute) -> _Kind:
    if attribute.filter.scim_id:
        return _Kind.REFERENCE
    if attribute.kind == MULTI:
        return _Kind.LIST
    if attribute.kind == COMPLEX:
        return _Kind.COMPLEX
    if attribute.type == BOOLEAN:
        return _Kind.BOOLEAN
    if attribute.type == DATETIME:
        return _Kind.DATETIME
    return _Kind.EXACT_TEXT if attribute.case_exact else _Kind.TEXT


def _filterable(path: str, attribute: Attribute, urn: str) -> _Attribute:
    orm = attribute.filter.orm
    return _Attribute(
        path,
        orm if isinstance(orm, tuple) else (orm,),
        _kind(attribute),
        urn,
        nullable=attribute.filter.nullable,
    )


def _resource(schema: ResourceSchema) -> _Resource:
    attributes: dict[str, _Attribute] = {}
    multi_valued: dict[str, _MultiValued] = {}
    unfilterable = {"schemas", *(name.lower() for name in schema.not_stored)}
    for urn, schema_attributes in schema.namespaces():
        for attribute in schema_attributes.values():
            key = attribute.name.lower()
            if attribute.rows is not None:
                multi_valued[key] = _MultiValued(
                    attribute.name,
                    attribute.rows.model,
                    attribute.rows.link,
                    {
                        sub.name.lower(): _filterable(sub.name, sub, urn)
                        for sub in attribute.sub_attributes
                        if sub.filter
                    },
                    urn,
                )
                continue
            paths = [(key, attribute.name, attribute)] + [
                (f"{key}.{sub.name.lower()}", f"{attribute.name}.{sub.name}", sub)
                for sub in attribute.sub_attributes
            ]
            for path_key, path, item in paths:
                if item.filter:
                    attributes[path_key] = _filterable(path, item, urn)
                else:
                    unfilterable.add(path_key)
    return _Resource(
        schema.name, schema.core_urn, attributes, multi_valued, frozenset(unfilterable)
    )


def _across(resource: _Resource, other: _Resource) -> _Resource:
    """`resource` as a search across resource types sees it: what only `other` has
    is known (so it is not an error) and matches nothing."""
    attributes = {
        key: replace(attribute, absent=True)
        for key, attribute in other.attributes.items()
    } | resource.attributes
    multi_valued = {
        key: replace(attribute, absent=True)
        for key, attribute in other.multi_valued.items()
    } | resource.multi_valued
    return _Resource(
        f"{resource.name} or {other.name}",
        resource.urn,
        attributes,
        multi_valued,
        (resource.unfilterable | other.unfilterable) - set(attributes),
    )


def _sortable(schema: ResourceSchema) -> dict[str, str]:
    """Lowercased SCIM paths to ORM fields, for sortBy.

    Extension attributes are also keyed by their URN-qualified path, which RFC 7644
    3.10 makes the full name; a core path's URN is the resource's own and callers strip it.
    """
    sortable = {}
    for urn, attributes in schema.namespaces():
        for attribute in attributes.values():
            paths = [(attribute.name, attribute)] + [
                (f"{attribute.name}.{sub.name}", sub)
                for sub in attribute.sub_attributes
            ]
            for path, item in paths:
                if item.sort:
                    sortable[path.lower()] = item.sort
                    if urn == schema.extension_urn:
                        sortable[f"{urn.lower()}:{path.lower()}"] = item.sort
    return sortable


_USER = _resource(USER)
_GROUP = _resource(GROUP)
_USER_ACROSS = _across(_USER, _GROUP)
_GROUP_ACROSS = _across(_GROUP, _USER)

SORTABLE_MEMBER_ATTRIBUTES: dict[str, str] = _sortable(USER)
SORTABLE_TEAM_ATTRIBUTES: dict[str, str] = _sortable(GROUP)
# For a search across resource types: each path with the member's and the team's
# field, None for the type that lacks it (sorted as unassigned values are).
SORTABLE_ACROSS_ATTRIBUTES: dict[str, tuple[str | None, str | None]] = {
    key: (SORTABLE_MEMBER_ATTRIBUTES.get(key), SORTABLE_TEAM_ATTRIBUTES.get(key))
    for key in SORTABLE_MEMBER_ATTRIBUTES | SORTABLE_TEAM_ATTRIBUTES
}


# -------------------------------------------------------------------- lexing and parsing


class _QuotedString(str):
    """A string value, as opposed to the bare words true, false, null and numbers."""


class _FilterLexer(SCIMLexer):
    tokens = SCIMLexer.tokens
    ignore = " \t\r\n"

    # JSON strings (RFC 7644 compValue), escaped quotes included; the base lexer stops
    # at the first quote.
    @_(r'"(?:[^"\\]|\\[\s\S])*"')  # noqa: F821
    def COMP_VALUE(self, t):
        t.value = _QuotedString(_decode_string(t.value))
        return t

    # JSON numbers; the base lexer takes a single digit.
    @_(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")  # noqa: F821
    def NUMBER(self, t):
        return t

    def error(self, t):
        position = t.index + 1
        if t.value[0] == '"':
            raise InvalidFilter(f"The string at position {position} is not closed.")
        raise InvalidFilter(
            f"Unexpected character {t.value[0]!r} at position {position}."
        )


def _decode_string(quoted: str) -> str:
    try:
        return json.loads(quoted, strict=False)
    except ValueError:
        # Not valid JSON, e.g. "DOMAIN\user": keep backslashes that escape nothing.
        return re.sub(r'\\(["\\/])', r"\1", quoted[1:-1])


_COMPARISON_TOKENS = {"EQ", "NE", "CO", "SW", "EW", "PR", "GT", "GE", "LT", "LE"}


def parse_filter(text: object) -> ast.Filter:
    """Parse a filter, or the filter inside a PATCH value path, within the limits above.

    Unbracketed chains come back regrouped so that "and" binds tighter than "or"
    (RFC 7644 section 3.4.2.2); string values are decoded and marked `_QuotedString`.
    """
    if not isinstance(text, str):
        raise InvalidFilter("The filter must be a string.")
    if not text.strip():
        raise InvalidFilter("The filter is empty.")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(
            f"The filter is longer than {MAX_FILTER_LENGTH} characters."
        )
    try:
        tokens = list(_FilterLexer().tokenize(text))
    except InvalidFilter:
        raise
    except Exception as error:  # no input may turn into a server error
        raise InvalidFilter("The filter could not be read.") from error
    _check_tokens(tokens)
    reader = _TokenReader(tokens)
    try:
        tree = SCIMParser().parse(iter(reader))
    except Exception as error:  # the parser raises SCIMParserError and others
        raise InvalidFilter(reader.describe_failure()) from error
    if not isinstance(tree, ast.Filter):
        raise InvalidFilter(reader.describe_failure())
    return _regroup(tree)


def _check_tokens(tokens: list) -> None:
    comparisons = sum(1 for token in tokens if token.type in _COMPARISON_TOKENS)
    if comparisons > MAX_COMPARISONS:
        raise InvalidFilter(
            f"The filter has {comparisons} comparisons; at most {MAX_COMPARISONS} "
            "are allowed."
        )
    depth = deepest = 0
    for token in tokens:
        if token.type in ("LPAREN", "LBRACKET"):
            depth += 1
            deepest = max(deepest, depth)
        elif token.type in ("RPAREN", "RBRACKET"):
            depth -= 1
    if deepest > MAX_FILTER_NESTING:
        raise InvalidFilter(
            f"The filter nests deeper than {MAX_FILTER_NESTING} levels."
        )
    for token in tokens:
        if isinstance(token.value, _QuotedString):
            check_storable(token.value, subject="A filter value", error=InvalidFilter)


def _regroup(node: ast.AST) -> ast.AST:
    """Rebuild each unbracketed chain `a op b op c ...` with "and" before "or".

    The parser nests such a chain left to right whatever the operators, so
    `a or b and c` would mean `(a or b) and c`. Brackets and not(...) come out as nested
    Filter nodes, so only the unbracketed chain is flattened and grouped again. The
    recursion is bounded by MAX_FILTER_NESTING and MAX_COMPARISONS, checked before
    parsing.
    """
    if isinstance(node, ast.AttrExpr):
        if isinstance(node.attr_path.attr_name, ast.Filter):
            # `emails[type eq "work"].value eq "x"`: the bracket is the attribute.
            node.attr_path.attr_name = _regroup(node.attr_path.attr_name)
        return node
    if not isinstance(node, ast.Filter):
        return node
    if not _is_chain(node):
        node.expr = _regroup(node.expr)
        return node
    operands: list[ast.AST] = []
    operators: list[str] = []

    def flatten(item: ast.AST) -> None:
        if _is_chain(item):
            flatten(item.expr.expr1)
            operators.append(item.expr.op.lower())
            flatten(item.expr.expr2)
        else:
            operands.append(_regroup(item))

    flatten(node)
    alternatives: list[ast.AST] = []
    conjunction = operands[0]
    for operator, operand in zip(operators, operands[1:], strict=True):
        if operator == "and":
            conjunction = _join("and", conjunction, operand)
        else:
            alternatives.append(conjunction)
            conjunction = operand
    alternatives.append(conjunction)
    result = alternatives[0]
    for alternative in alternatives[1:]:
        result = _join("or", result, alternative)
    return result


def _is_chain(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Filter)
        and isinstance(node.expr, ast.LogExpr)
        and not node.negated
        and node.namespace is None
    )


def _join(operator: str, left: ast.AST, right: ast.AST) -> ast.Filter:
    return ast.Filter(ast.LogExpr(operator, left, right), False, None)


class _TokenReader:
    """Feed tokens to the parser, remembering the last one to explain a syntax error."""

    def __init__(self, tokens: list) -> None:
        self.tokens = tokens
        self.last = None
        self.finished = False

    def __iter__(self) -> Iterator:
        for token in self.tokens:
            self.last = token
            yield token
        self.finished = True

    def describe_failure(self) -> str:
        if self.finished or self.last is None:
            return "The filter ends too early (an operand or a closing bracket is missing)."
        return f"Unexpected {_show(self.last.value)} at position {self.last.index + 1}."


def _show(value: object) -> str:
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return json.dumps(text) if isinstance(value, _QuotedString) else repr(text)


# ------------------------------------------------------------------------------- compiler


def _compile(text: object, resource: _Resource) -> Q:
    tree = parse_filter(text)
    try:
        return _Compiler(resource).filter(tree, scope=None)
    except RecursionError:  # bounded by MAX_FILTER_NESTING; kept as a last guard
        raise InvalidFilter("The filter is too complex.") from None


class _Compiler:
    """Turn a parsed filter into a Q for one resource type.

    `scope` is None at the top level and the multi-valued attribute inside brackets
    (`emails[...]`), where names are sub-attributes and conditions apply to one row.
    """

    def __init__(self, resource: _Resource) -> None:
        self.resource = resource

    def filter(self, node: ast.AST, scope: _MultiValued | None) -> Q:
        if not isinstance(node, ast.Filter):
            raise InvalidFilter("The filter could not be understood.")
        if node.namespace is not None:
            query = self.value_path(node, scope)
        elif isinstance(node.expr, ast.LogExpr):
            query = self.logical(node.expr, scope)
        elif isinstance(node.expr, ast.Filter):
            query = self.filter(node.expr, scope)
        elif isinstance(node.expr, ast.AttrExpr):
            query = self.comparison(node.expr, scope)
        else:
            raise InvalidFilter("The filter could not be understood.")
        return ~query if node.negated else query

    def logical(self, node: ast.LogExpr, scope: _MultiValued | None) -> Q:
        # parse_filter has already grouped "and" before "or".
        left, right = self.filter(node.expr1, scope), self.filter(node.expr2, scope)
        return left & right if node.op.lower() == "and" else left | right

    def value_path(self, node: ast.Filter, scope: _MultiValued | None) -> Q:
        """`emails[type eq "work" and value co "@x"]`: one row must meet the whole filter."""
        multi_valued = self.multi_valued(node.namespace, scope)
        if node.namespace.sub_attr is not None:
            raise InvalidFilter(
                f"{multi_valued.path}[...] cannot be followed by a sub-attribute here."
            )
        return multi_valued.exists(self.filter(node.expr, multi_valued))

    def comparison(self, node: ast.AttrExpr, scope: _MultiValued | None) -> Q:
        operator = node.value.lower()
        path = node.attr_path
        if isinstance(path.attr_name, ast.Filter):
            # `emails[type eq "work"].value eq "x"`: the parser moved ".value" onto the
            # bracket's attribute; the row must meet both the bracket and the comparison.
            bracket = path.attr_name
            if path.sub_attr is not None or path.uri is not None:
                raise InvalidFilter("The filter could not be understood.")
            multi_valued = self.multi_valued(bracket.namespace, scope)
            sub_attribute = self.sub_attribute(multi_valued, bracket.namespace.sub_attr)
            row_filter = self.filter(bracket.expr, multi_valued)
            compared = _compare(sub_attribute, operator, node.comp_value)
            return multi_valued.exists(row_filter & compared)
        if scope is not None:
            if path.uri is not None or path.sub_attr is not None:
                raise InvalidFilter(
                    f"Inside {scope.path}[...] use its sub-attributes, such as "
                    f"{', '.join(scope.sub_attributes)}."
                )
            attribute = self.sub_attribute(scope, ast.SubAttr(path.attr_name))
            return _compare(attribute, operator, node.comp_value)
        name = path.attr_name.lower()
        if name in self.resource.multi_valued:
            multi_valued = self.multi_valued(path, scope)
            attribute = self.sub_attribute(multi_valued, path.sub_attr)
            return multi_valued.exists(_compare(attribute, operator, node.comp_value))
        return _compare(self.attribute(path), operator, node.comp_value)

    # -- attribute resolution

    def attribute(self, path: ast.AttrPath) -> _Attribute:
        key = _path_key(path)
        attribute = self.resource.attributes.get(key)
        if attribute is None:
            name = path.attr_name.lower()
            if key in self.resource.unfilterable or name in self.resource.unfilterable:
                raise InvalidFilter(f'"{_spell(path)}" cannot be used in a filter.')
            raise InvalidFilter(
                f'"{_spell(path)}" is not an attribute of a {self.resource.name}.'
            )
        self.check_urn(path, attribute.urn)
        return attribute

    def multi_valued(
        self, path: ast.AttrPath, scope: _MultiValued | None
    ) -> _MultiValued:
        if scope is not None:
            raise InvalidFilter(f"Brackets cannot be nested inside {scope.path}[...].")
        if not isinstance(path.attr_name, str):
            raise InvalidFilter("The filter could not be understood.")
        multi_valued = self.resource.multi_valued.get(path.attr_name.lower())
        if multi_valued is None:
            raise InvalidFilter(
                f'"{_spell(path)}" is not a multi-valued attribute of a '
                f"{self.resource.name}, so it cannot take [...]."
            )
        self.check_urn(path, multi_valued.urn)
        return multi_valued

    def sub_attribute(
        self, multi_valued: _MultiValued, sub_attr: ast.SubAttr | None
    ) -> _Attribute:
        name = sub_attr.value if sub_attr is not None else multi_valued.default
        attribute = multi_valued.sub_attributes.get(name.lower())
        if attribute is None:
            raise InvalidFilter(
                f'"{multi_valued.path}.{name}" cannot be used in a filter; use '
                + ", ".join(
                    f"{multi_valued.path}.{n}" for n in multi_valued.sub_attributes
                )
                + "."
            )
        return attribute

    def check_urn(self, path: ast.AttrPath, urn: str) -> None:
        if path.uri is None:
            return
        if path.uri.lower() != urn.lower():
            raise InvalidFilter(
                f'"{_spell(path)}" is not an attribute of the schema {path.uri[:100]}.'
            )


def _path_key(path: ast.AttrPath) -> str:
    key = path.attr_name.lower()
    if path.sub_attr is not None:
        key += "." + path.sub_attr.value.lower()
    return key


def _spell(path: ast.AttrPath) -> str:
    text = f"{path.uri}:" if path.uri else ""
    text += str(path.attr_name)
    if path.sub_attr is not None:
        text += "." + path.sub_attr.value
    return text[:100]


# ----------------------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class _Literal:
    kind: str  # "string", "number", "boolean" or "null"
    value: str | bool | None


def _literal(comp_value: ast.CompValue | None) -> _Literal | None:
    if comp_value is None:
        return None
    raw = comp_value.value
    if isinstance(raw, _QuotedString):
        return _Literal("string", str(raw))
    if raw in ("true", "false"):
        return _Literal("boolean", raw == "true")
    if raw == "null":
        return _Literal("null", None)
    return _Literal("number", raw)


def _compare(
    attribute: _Attribute, operator: str, comp_value: ast.CompValue | None
) -> Q:
    if attribute.absent:
        # The other resource type's attribute: refused as it would be there, else
        # matching nothing here.
        _compare(replace(attribute, absent=False), operator, comp_value)
        return Q(pk__in=[])
    if operator not in _OPERATORS_BY_KIND[attribute.kind]:
        allowed = ", ".join(sorted(_OPERATORS_BY_KIND[attribute.kind]))
        raise InvalidFilter(
            f'The operator "{operator}" cannot be used with {attribute.path} '
            f"(a {attribute.kind.value}; use {allowed})."
        )
    literal = _literal(comp_value)
    if operator == "pr":
        return _present(attribute)
    assert literal is not None  # every operator but pr has a value (parser grammar)
    if literal.kind == "null":
        # `x eq null` asks for an absent value (RFC 7643 2.5: null is unassigned).
        if operator == "eq":
            return ~_present(attribute)
        if operator == "ne":
            return _present(attribute)
        raise InvalidFilter(f'The operator "{operator}" cannot compare with null.')
    if attribute.kind in (_Kind.TEXT, _Kind.EXACT_TEXT):
        return _compare_text(attribute, operator, _text_value(attribute, literal))
    if attribute.kind is _Kind.BOOLEAN:
        wanted = _boolean_value(attribute, literal)
        return Q(**{attribute.field: wanted if operator == "eq" else not wanted})
    if attribute.kind is _Kind.DATETIME:
        return _compare_datetime(attribute, operator, literal)
    if attribute.kind is _Kind.REFERENCE:
        return _compare_reference(attribute, operator, literal)
    raise InvalidFilter(f"{attribute.path} cannot be compared.")


def _present(attribute: _Attribute) -> Q:
    """RFC 7644 3.4.2.2 "pr": the attribute has a non-empty, non-null value."""
    if attribute.kind is _Kind.COMPLEX:
        query = Q(pk__in=[])
        for orm in attribute.fields:
            query |= ~Q(**{orm: ""})
        return query
    if attribute.kind is _Kind.LIST:
        return ~Q(**{attribute.field: []})
    not_null = Q(**{f"{attribute.field}__isnull": False})
    if attribute.kind in (_Kind.TEXT, _Kind.EXACT_TEXT):
        return not_null & ~Q(**{attribute.field: ""})
    return not_null


def _text_value(attribute: _Attribute, literal: _Literal) -> str:
    if literal.kind == "string":
        return str(literal.value)
    if literal.kind == "number":
        # Lenient: `employeeNumber eq 1234` means the digits, which are unambiguous.
        return str(literal.value)
    raise InvalidFilter(
        f"{attribute.path} is a string; compare it with a quoted value."
    )


_TEXT_LOOKUPS = {
    "co": "icontains",
    "sw": "istartswith",
    "ew": "iendswith",
}
_EXACT_ORDERING_LOOKUPS = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
_ORDERING_LOOKUPS = {
    "eq": Exact,
    "gt": GreaterThan,
    "ge": GreaterThanOrEqual,
    "lt": LessThan,
    "le": LessThanOrEqual,
}


def _compare_text(attribute: _Attribute, operator: str, value: str) -> Q:
    orm = attribute.field
    if operator == "ne":
        return ~_compare_text(attribute, "eq", value)
    if attribute.kind is _Kind.TEXT:
        if operator in _TEXT_LOOKUPS:
            # Django escapes % and _ in these lookups, so they match literally.
            return Q(**{f"{orm}__{_TEXT_LOOKUPS[operator]}": value})
        # eq and the orderings compare lowercased on both sides, in the database: the
        # same case folding for column and value, and eq can use the Lower() indexes
        # on userName and email values.
        lookup = _ORDERING_LOOKUPS[operator](Lower(F(orm)), Lower(_string(value)))
        return _guard_null(attribute, lookup)
    # caseExact (RFC 7643: id, externalId). SQLite's LIKE ignores case, so the
    # substring tests compare exactly with functions both databases evaluate the same.
    if operator == "eq":
        return Q(**{orm: value})
    if operator in _EXACT_ORDERING_LOOKUPS:
        return Q(**{f"{orm}__{_EXACT_ORDERING_LOOKUPS[operator]}": value})
    if value == "":
        return Q(**{f"{orm}__isnull": False})
    needle = _string(value)
    if operator == "sw":
        lookup = Exact(Substr(F(orm), 1, len(value)), needle)
    elif operator == "ew":
        lookup = Exact(Right(F(orm), len(value)), needle)
    else:
        lookup = GreaterThan(StrIndex(F(orm), needle), 0)
    return _guard_null(attribute, lookup)


def _string(value: str) -> Value:
    return Value(value, output_field=CharField())


def _guard_null(attribute: _Attribute, lookup) -> Q:
    # A comparison on NULL is unknown, and NOT(unknown) is unknown too: the guard makes
    # `not (externalId sw "a")` match members with no externalId, as it should.
    if attribute.nullable:
        return Q(**{f"{attribute.field}__isnull": False}) & Q(lookup)
    return Q(lookup)


def _boolean_value(attribute: _Attribute, literal: _Literal) -> bool:
    if literal.kind == "boolean":
        return bool(literal.value)
    # Entra ID's non-compliant mode writes booleans as "True"/"False" strings.
    if literal.kind == "string" and str(literal.value).lower() in ("true", "false"):
        return str(literal.value).lower() == "true"
    raise InvalidFilter(
        f"{attribute.path} is a boolean; compare it with true or false, "
        f"not {_show_literal(literal)}."
    )


def _compare_datetime(attribute: _Attribute, operator: str, literal: _Literal) -> Q:
    start, end = _time_span(attribute, literal)
    orm = attribute.field
    at_or_after_start = Q(**{f"{orm}__gte": start})
    if end is None:
        # The span runs past the calendar's last instant: every stored value is before
        # its end, none at or after it.
        before_end = Q(**{f"{orm}__isnull": False})
        at_or_after_end = Q(pk__in=[])
    else:
        before_end = Q(**{f"{orm}__lt": end})
        at_or_after_end = Q(**{f"{orm}__gte": end})
    # The value is compared at the precision it was written with, so a client sending
    # back the second-precision meta.lastModified it was shown finds the resource.
    if operator == "eq":
        return at_or_after_start & before_end
    if operator == "ne":
        return ~(at_or_after_start & before_end)
    if operator == "gt":
        return at_or_after_end
    if operator == "ge":
        return at_or_after_start
    if operator == "lt":
        return Q(**{f"{orm}__lt": start})
    return before_end  # le


def _time_span(
    attribute: _Attribute, literal: _Literal
) -> tuple[datetime, datetime | None]:
    """The instants a dateTime value covers, [start, end) in UTC, at the precision it
    was written with; end is None when the span runs past 9999-12-31T23:59:59.999999Z."""
    text = str(literal.value).strip() if literal.kind == "string" else ""
    try:
        moment = parse_datetime(text) if text else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidFilter(
            f"{attribute.path} is a dateTime; compare it with a quoted ISO 8601 value "
            f'such as "2024-01-31T12:00:00Z", not {_show_literal(literal)}.'
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        # In UTC here, as the databases compare: SQLite's adapter would otherwise
        # overflow on "9999-12-31T23:00:00-05:00" in the middle of the query.
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise InvalidFilter(
            f"{attribute.path}: {_show_literal(literal)} is outside the years 1 to "
            "9999 once in UTC."
        ) from None
    if "." in text or "," in text:
        precision = timedelta(microseconds=1)
    elif "T" in text.upper() or " " in text:
        precision = timedelta(seconds=1)
    else:
        precision = timedelta(days=1)
    try:
        return moment, moment + precision
    except OverflowError:
        return moment, None


def _compare_reference(attribute: _Attribute, operator: str, literal: _Literal) -> Q:
    if literal.kind != "string":
        raise InvalidFilter(
            f"{attribute.path} is an id; compare it with a quoted value, "
            f"not {_show_literal(literal)}."
        )
    try:
        wanted = uuid.UUID(str(literal.value).strip())
    except ValueError:
        # No resource has this id: nothing is equal to it.
        equal = Q(pk__in=[])
    else:
        equal = Q(**{attribute.field: wanted})
    return equal if operator == "eq" else ~equal


def _show_literal(literal: _Literal) -> str:
    if literal.kind == "string":
        return _show(_QuotedString(str(literal.value)))
    return (
        str(literal.value).lower() if literal.kind == "boolean" else str(literal.value)
    )
