"""PATCH (RFC 7644 section 3.5.2): every shape Entra ID and Okta send, normalised once.

Operations are applied to the resource's SCIM document in memory; the caller validates
the result and writes it with one action, so one bad operation changes nothing. Group
members are never rewritten as a document: their operations become set changes
(`MemberChanges`) applied with one insert and one delete.

Quirks handled here, with where they come from:
- op names in any case: Entra ID sends "Add", "Replace", "Remove".
- "True"/"False" strings for booleans: Entra ID's default job (validated later).
- path-less values with dotted and URN-qualified keys: Entra ID's aadOptscim062020 mode
  ({"name.givenName": ..., "urn:...:enterprise:2.0:User:employeeNumber": ...}); Okta sends
  {"active": false} and {"id": ..., "displayName": ...}, whose "id" is ignored.
- value-path filters created when absent: Entra ID replaces emails[type eq "work"].value
  on users who have no work email yet.
- members removed by `members[value eq "id"]` (RFC, Okta, Entra compliant mode) and by a
  value list on path "members" (Entra ID's default job): only the listed ids go.
- add on a single-valued attribute is a replace (Entra ID sends Add when it saw no value).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django_scim.constants import SchemaURI
from scim2_filter_parser import ast as filter_ast

from scim.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    TooMany,
)
from scim.filters import parse_filter
from scim.keys import get_any_case, pop_any_case, set_any_case
from scim.limits import MAX_OPERATIONS, MAX_PATH_LENGTH, MAX_PATH_TEXT_PER_PATCH
from scim.serializers import (
    COMPLEX,
    MULTI,
    Attribute,
    ResourceSchema,
    as_boolean,
    member_references,
    require_member_count,
)

_PATH = re.compile(
    r"^(?P<attr>[A-Za-z$][\w$-]*)(?:\[(?P<filter>.+)\])?(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$",
    re.DOTALL,
)
_IGNORED_VALUE_KEYS = {"id", "schemas", "meta"}


@dataclass(frozen=True)
class Operation:
    op: str  # "add", "remove" or "replace"
    path: str | None
    value: Any


@dataclass
class Target:
    namespace: str | None  # the extension URN, or None for the core schema
    attribute: Attribute
    filter: Any = None  # a value path's filter, as scim.filters.parse_filter gives it
    sub: str | None = None


@dataclass
class MemberChanges:
    """Group membership changes in order, reduced to one add, remove and replace set."""

    add: set[str] = field(default_factory=set)
    remove: set[str] = field(default_factory=set)
    replace: set[str] | None = None

    def added(self, ids: list[str]) -> None:
        self.add.update(ids)
        self.remove.difference_update(ids)
        if self.replace is not None:
            self.replace.update(ids)

    def removed(self, ids: list[str]) -> None:
        self.remove.update(ids)
        self.add.difference_update(ids)
        if self.replace is not None:
            self.replace.difference_update(ids)

    def replaced(self, ids: list[str]) -> None:
        self.replace = set(ids)
        self.add, self.remove = set(), set()

    @property
    def is_empty(self) -> bool:
        return not self.add and not self.remove and self.replace is None

    @property
    def size(self) -> int:
        """How many member ids the changes name, for MAX_MEMBERS_PER_REQUEST."""
        return len(self.add) + len(self.remove) + len(self.replace or ())


def parse_operations(body: Any) -> list[Operation]:
    """Check a PatchOp body and return its operations with lower-case op names."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The body must be a JSON object.")
    schemas = get_any_case(body, "schemas")
    if not isinstance(schemas, list) or SchemaURI.PATCH_OP.lower() not in [
        str(s).lower() for s in schemas
    ]:
        raise InvalidSyntax(f'"schemas" must list "{SchemaURI.PATCH_OP}".')
    raw = get_any_case(body, "Operations")
    if raw is None:
        raise InvalidSyntax('A PATCH body needs "Operations".')
    if not isinstance(raw, list):
        raise InvalidSyntax('"Operations" must be a list.')
    if len(raw) > MAX_OPERATIONS:
        raise TooMany(f"At most {MAX_OPERATIONS} operations per PATCH.")
    operations = []
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidSyntax("Each operation must be an object.")
        op = get_any_case(item, "op")
        if not isinstance(op, str) or op.lower() not in ("add", "remove", "replace"):
            raise InvalidSyntax(f'"op" must be add, remove or replace, not {op!r}.')
        path = get_any_case(item, "path")
        if path is not None and not isinstance(path, str):
            raise InvalidPath('"path" must be a string.')
        operations.append(
            Operation(
                op.lower(), (path or "").strip() or None, get_any_case(item, "value")
            )
        )
    if sum(_value_path_length(operation) for operation in operations) > (
        MAX_PATH_TEXT_PER_PATCH
    ):
        raise TooMany(
            f"The value paths of this PATCH exceed {MAX_PATH_TEXT_PER_PATCH} "
            "characters in all; send fewer operations per request."
        )
    return operations


def _value_path_length(operation: Operation) -> int:
    """The characters of the paths with a [filter] in an operation: its path, or the
    keys of its path-less value."""
    paths = [operation.path or ""]
    if operation.path is None and isinstance(operation.value, dict):
        paths += [str(key) for key in operation.value]
    return sum(len(path) for path in paths if "[" in path)


def apply_operations(
    document: dict[str, Any],
    operations: list[Operation],
    schema: ResourceSchema,
    *,
    members: MemberChanges | None = None,
) -> dict[str, Any]:
    """Apply the operations to `document` in place and return it."""
    for operation in operations:
        if operation.path is None:
            _apply_pathless(document, operation, schema, members)
        elif schema.extension_urn and (
            operation.path.lower() == schema.extension_urn.lower()
        ):
            _apply_extension(document, operation, schema, members)
        else:
            target = parse_path(operation.path, schema)
            if target is not None:
                _apply(document, operation.op, target, operation.value, members)
    return document


def parse_path(path: str, schema: ResourceSchema) -> Target | None:
    """Resolve a path; None for an attribute outside the schema (ignored, not refused:
    Entra ID sends attributes an admin mapped that this service does not store)."""
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"A path is longer than {MAX_PATH_LENGTH} characters.")
    text = path.strip()
    lowered = text.lower()
    namespace = None
    if lowered.startswith("urn:"):
        for urn in (schema.extension_urn, schema.core_urn):
            if urn and lowered.startswith(urn.lower() + ":"):
                namespace = urn if urn == schema.extension_urn else None
                text = text[len(urn) + 1 :]
                break
        else:
            return None  # another extension (custom Entra attributes): not stored
    match = _PATH.match(text)
    if not match:
        raise InvalidPath(f'"{path}" is not a valid attribute path.')
    attribute = schema.lookup(namespace, match["attr"])
    if attribute is None and namespace is None:
        found = schema.find(match["attr"])
        if found is not None:
            namespace, attribute = found
    if attribute is None:
        return None
    if attribute.read_only:
        # RFC 7644 section 3.5.2: id, meta (and meta.created...) and groups.
        raise Mutability(f"{attribute.name} is read-only.")
    sub = None
    if match["sub"]:
        sub = attribute.canonical_sub(match["sub"])
        if sub is None:
            if attribute.kind == COMPLEX and attribute.name != "meta":
                return None  # an unknown sub-attribute: not stored
            if attribute.kind not in (COMPLEX, MULTI):
                raise InvalidPath(f'"{attribute.name}" has no sub-attributes.')
            return None
    value_filter = None
    if match["filter"]:
        if attribute.kind != MULTI:
            raise InvalidPath(f'"{attribute.name}" is not multi-valued.')
        value_filter = _parse_filter(match["filter"], path)
    return Target(namespace, attribute, value_filter, sub)


def _apply_pathless(
    document: dict, operation: Operation, schema: ResourceSchema, members
) -> None:
    if operation.op == "remove":
        raise NoTarget("A remove operation needs a path.")
    if not isinstance(operation.value, dict):
        raise InvalidValue("Without a path, the value must be an object of attributes.")
    for key, value in operation.value.items():
        key = str(key)
        if key.lower() in _IGNORED_VALUE_KEYS:
            continue
        if schema.extension_urn and key.lower() == schema.extension_urn.lower():
            _apply_extension(
                document, Operation(operation.op, key, value), schema, members
            )
            continue
        target = parse_path(key, schema)
        if target is not None:
            _apply(document, operation.op, target, value, members)


def _apply_extension(
    document: dict, operation: Operation, schema: ResourceSchema, members
) -> None:
    """The whole extension as the path (or a path-less key): its attributes one by one;
    remove clears them all. scim2-tester and some clients send this shape."""
    urn = schema.extension_urn
    if operation.op == "remove":
        if operation.value is not None:
            raise InvalidValue(f"Remove {urn} without a value, or name its attributes.")
        document.pop(urn, None)
        return
    if not isinstance(operation.value, dict):
        raise InvalidValue(f"{urn} must be an object.")
    for key, value in operation.value.items():
        if str(key).lower() in _IGNORED_VALUE_KEYS:
            continue
        target = parse_path(f"{urn}:{key}", schema)
        if target is not None:
            _apply(document, operation.op, target, value, members)


def _apply(
    document: dict, op: str, target: Target, value: Any, members: MemberChanges | None
) -> None:
    attribute = target.attribute
    if attribute.read_only:
        raise Mutability(f"{attribute.name} is read-only.")
    if op != "remove" and value is None:
        raise InvalidValue(f"{op} on {attribute.name} needs a value.")
    if attribute.name == "members" and members is not None:
        _apply_members(op, target, value, members)
        return
    container = document
    if target.namespace is not None:
        container = document.setdefault(target.namespace, {})
    if attribute.kind == MULTI:
        _apply_multi(container, op, target, value)
    elif attribute.kind == COMPLEX:
        _apply_complex(container, op, target, value)
    elif target.sub is not None:
        raise InvalidPath(f'"{attribute.name}" has no sub-attributes.')
    elif op == "remove":
        if attribute.name == "active":
            # A member is active or not; "unassigned" would have no meaning.
            raise InvalidValue(
                "active cannot be removed; replace it with false to deactivate."
            )
        container.pop(attribute.name, None)
    else:
        container[attribute.name] = value


def _apply_complex(container: dict, op: str, target: Target, value: Any) -> None:
    name, sub = target.attribute.name, target.sub
    if op == "remove":
        if sub is None:
            container.pop(name, None)
        elif isinstance(container.get(name), dict):
            container[name].pop(sub, None)
        return
    if sub is not None:
        container.setdefault(name, {})
        if not isinstance(container[name], dict):
            container[name] = {}
        container[name][sub] = value
        return
    if name == "manager":
        # Entra ID sends a manager as "id", {"value": id} or [{"$ref", "value"}].
        if isinstance(value, list):
            value = value[0] if value else ""
        if isinstance(value, str):
            value = {"value": value}
        if isinstance(value, dict):
            container[name] = value
            return
    if not isinstance(value, dict):
        raise InvalidValue(f"{name} must be an object.")
    current = container.get(name) if isinstance(container.get(name), dict) else {}
    # RFC 7644 section 3.5.2.3: sub-attributes not given are left unchanged.
    container[name] = {**current, **value}


def _apply_multi(container: dict, op: str, target: Target, value: Any) -> None:
    attribute, sub = target.attribute, target.sub
    items = [
        item for item in container.get(attribute.name) or [] if isinstance(item, dict)
    ]
    if target.filter is not None:
        matched = [item for item in items if _matches(target.filter, item)]
        if op == "remove":
            if sub is None:
                items = [item for item in items if item not in matched]
            else:
                for item in matched:
                    pop_any_case(item, sub)
        else:
            if not matched:
                # Entra ID expects the element to be created (not 400 noTarget).
                created = _filter_equalities(target.filter)
                items.append(created)
                matched = [created]
            for item in matched:
                if sub is not None:
                    set_any_case(item, sub, value)
                elif isinstance(value, dict):
                    item.update(value)
                else:
                    raise InvalidValue(f"{attribute.name} values must be objects.")
            _one_primary(items, matched)
    elif sub is not None:
        if op == "remove":
            for item in items:
                pop_any_case(item, sub)
        else:
            if not items:
                items.append({})
            for item in items:
                set_any_case(item, sub, value)
    elif op == "remove":
        if value is None:
            items = []
        else:
            # A value list on remove (Entra ID's style for members): remove those only.
            drop = {
                str(get_any_case(v, "value") if isinstance(v, dict) else v).lower()
                for v in (value if isinstance(value, list) else [value])
            }
            items = [
                i for i in items if str(get_any_case(i, "value")).lower() not in drop
            ]
    else:
        new = value if isinstance(value, list) else [value]
        if not all(isinstance(item, dict) for item in new):
            raise InvalidValue(f"{attribute.name} must be a list of objects.")
        new = [dict(item) for item in new]
        if op == "replace":
            items = new
        else:
            known = {
                str(get_any_case(i, "value")).lower()
                for i in items
                if get_any_case(i, "value")
            }
            items += [
                i
                for i in new
                if str(get_any_case(i, "value")).lower() not in known
                or not get_any_case(i, "value")
            ]
        _one_primary(items, new)
    container[attribute.name] = items


def _apply_members(op: str, target: Target, value: Any, members: MemberChanges) -> None:
    if target.sub is not None:
        raise InvalidPath("Group members are changed as a whole, not by sub-attribute.")
    if target.filter is not None:
        if op != "remove":
            raise InvalidPath('Use "add" with a members list, or remove members[...].')
        members.removed(_member_ids_in_filter(target.filter))
    elif op == "add":
        members.added(member_references(value))
    elif op == "replace":
        members.replaced(member_references(value))
    elif value is None:
        members.replaced([])  # RFC 7644 section 3.5.2.2: remove all members
    else:
        members.removed(member_references(value))
    require_member_count(members.size)


def _member_ids_in_filter(tree: Any) -> list[str]:
    """The ids of `value eq "id"` terms joined by "or" (Okta may send several)."""
    ids: list[str] = []

    def visit(node: Any) -> None:
        if (
            isinstance(node, filter_ast.Filter)
            and not node.negated
            and node.namespace is None
        ):
            visit(node.expr)
        elif isinstance(node, filter_ast.LogExpr) and node.op.lower() == "or":
            visit(node.expr1)
            visit(node.expr2)
        elif (
            isinstance(node, filter_ast.AttrExpr)
            and node.value.lower() == "eq"
            and isinstance(node.attr_path.attr_name, str)
            and node.attr_path.attr_name.lower() == "value"
            and node.comp_value is not None
        ):
            ids.append(str(node.comp_value.value))
        else:
            raise InvalidPath('Remove members with members[value eq "id"].')

    visit(tree)
    return ids


def _parse_filter(text: str, path: str) -> Any:
    # The same parser, limits and corrections as ?filter=; RFC 7644 section 3.12 lists
    # invalidFilter for a PATCH path's filter too.
    try:
        return parse_filter(text)
    except InvalidFilter as error:
        shown = path if len(path) <= 100 else path[:97] + "..."
        raise InvalidFilter(f"In the path {shown!r}: {error.detail}") from None


def _matches(node: Any, item: dict) -> bool:
    """Whether one element meets a value path's filter (parse_filter has grouped "and"
    before "or"); string comparisons ignore case, as the stored attributes do."""
    if isinstance(node, filter_ast.Filter):
        if node.namespace is not None:
            raise InvalidFilter("Brackets cannot be nested inside a path's [...].")
        result = _matches(node.expr, item)
        return not result if node.negated else result
    if isinstance(node, filter_ast.LogExpr):
        if node.op.lower() == "and":
            return _matches(node.expr1, item) and _matches(node.expr2, item)
        return _matches(node.expr1, item) or _matches(node.expr2, item)
    if isinstance(node, filter_ast.AttrExpr):
        name = node.attr_path.attr_name
        if not isinstance(name, str):
            raise InvalidFilter("Brackets cannot be nested inside a path's [...].")
        if node.attr_path.sub_attr is not None or node.attr_path.uri is not None:
            raise InvalidFilter("Inside a path's [...] name sub-attributes only.")
        actual = get_any_case(item, name)
        operator = node.value.lower()
        if operator == "pr":
            return actual not in (None, "", [], {})
        if actual is None:
            return operator == "ne"
        left = str(actual).lower()
        right = str(node.comp_value.value).lower()
        return _COMPARISONS[operator](left, right)
    raise InvalidFilter("The filter in the path could not be understood.")


# RFC 7644 section 3.4.2.2's operators but "pr"; the parser admits no others.
_COMPARISONS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "co": lambda a, b: b in a,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _filter_equalities(tree: Any) -> dict[str, Any]:
    """The element a value filter describes: emails[type eq "work"] -> {"type": "work"}."""
    created: dict[str, Any] = {}

    def visit(node: Any) -> None:
        if isinstance(node, filter_ast.Filter) and not node.negated:
            visit(node.expr)
        elif isinstance(node, filter_ast.LogExpr) and node.op.lower() == "and":
            visit(node.expr1)
            visit(node.expr2)
        elif (
            isinstance(node, filter_ast.AttrExpr)
            and node.value.lower() == "eq"
            and isinstance(node.attr_path.attr_name, str)
        ):
            value = str(node.comp_value.value)  # a plain str, not the lexer's subclass
            if node.attr_path.attr_name.lower() == "primary":
                value = as_boolean(value, "primary")
            created[node.attr_path.attr_name] = value
        else:
            raise NoTarget("No element matches the filter, and it cannot be created.")

    visit(tree)
    return created


def _one_primary(items: list[dict], changed: list[dict]) -> None:
    """RFC 7643 section 2.4: at most one primary; the newly set one wins."""
    newly_primary = [i for i in changed if _truthy(get_any_case(i, "primary"))]
    if not newly_primary:
        return
    keep = newly_primary[-1]
    for item in items:
        if item is not keep and _truthy(get_any_case(item, "primary")):
            set_any_case(item, "primary", False)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
