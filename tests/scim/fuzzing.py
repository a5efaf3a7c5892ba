"""Hypothesis strategies for SCIM input, built from scim.resource_schema, and the
settings that keep every property test bounded and repeatable in CI.

The grammar-aware strategies write filters and PATCH bodies that reach the compiler
and the normaliser (known attribute paths in any case, every operator, quoted strings
with escapes, value paths, and/or/not, nesting); the free-form ones (any text, any JSON,
token soup) make sure nothing outside the grammar escapes as anything but a SCIM error.

CI runs a fixed number of derandomized examples. To hunt for new failures, set
ORGADMIN_FUZZ_EXAMPLES (say 5000): the run is then random and as long as asked.
"""

import json
import os
from datetime import UTC

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from scim.resource_schema import GROUP, MULTI, RESOURCE_SCHEMAS

_HUNT = os.environ.get("ORGADMIN_FUZZ_EXAMPLES")


def bounded(examples: int):
    """@settings for a property test: `examples` derandomized cases, no deadline (the
    database's speed varies), and no example database written into the work tree."""
    return settings(
        max_examples=int(_HUNT) if _HUNT else examples,
        derandomize=not _HUNT,
        database=None,
        deadline=None,
        # The data fixtures are function-scoped on purpose: examples only read them,
        # or run in a savepoint that is rolled back.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
        print_blob=True,
    )


@st.composite
def any_case(draw, text: str) -> str:
    """`text` with each letter in either case: attribute names, operators and
    keywords compare without case (RFC 7643 section 2.1, RFC 7644 section 3.4.2.2)."""
    flips = draw(st.integers(0, 2 ** len(text) - 1))  # one draw: cheap, shrinks to text
    return "".join(c.swapcase() if flips >> i & 1 else c for i, c in enumerate(text))


def _schema_paths() -> tuple[list[str], list[str], list[str]]:
    """Every attribute path of User and Group, bare and URN-qualified; the names of
    multi-valued attributes; and every sub-attribute name."""
    paths, multi_valued, subs = [], [], []
    for schema in RESOURCE_SCHEMAS:
        for urn, attributes in schema.namespaces():
            for attribute in attributes.values():
                names = [attribute.name] + [
                    f"{attribute.name}.{sub.name}" for sub in attribute.sub_attributes
                ]
                paths += names + [f"{urn}:{name}" for name in names]
                if attribute.kind == MULTI:
                    multi_valued.append(attribute.name)
                subs += [sub.name for sub in attribute.sub_attributes]
        paths += sorted(schema.not_stored)
    paths += ["schemas", "unknown", "name.unknown", "emails.unknown", "urn:x:y:z"]
    paths += [f"{GROUP.core_urn}:userName"]  # a User attribute under the Group URN
    return sorted(set(paths)), sorted(set(multi_valued)), sorted(set(subs)) + ["x"]


PATHS, MULTI_VALUED, SUB_ATTRIBUTES = _schema_paths()
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]

attribute_paths = st.sampled_from(PATHS).flatmap(any_case)
sub_attribute_names = st.sampled_from(SUB_ATTRIBUTES).flatmap(any_case)
multi_valued_names = st.sampled_from(MULTI_VALUED).flatmap(any_case)
operators = st.sampled_from(OPERATORS).flatmap(any_case)

# Placeholders a test replaces with the SCIM id of a member of its organization, and
# of a member of another organization.
MEMBER = "@MEMBER@"
FOREIGN_MEMBER = "@FOREIGN_MEMBER@"

# Text worth comparing: the directory's own values, SQL LIKE wildcards, quotes,
# backslashes, NUL, a lone surrogate and non-ASCII letters.
_interesting_text = st.one_of(
    st.sampled_from(
        [
            "",
            "ada@acme.example",
            "ADA",
            "Sales",
            "work",
            "true",
            "%",
            "_",
            "\\",
            '"',
            "'",
            "\x00",
            "\ud800",
            "ß",
            "İ",
            "2024-01-01",
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:00:00.5+01:00",
            "2024-13-45T99:99:99Z",
            "00000000-0000-0000-0000-000000000000",
            MEMBER,
            FOREIGN_MEMBER,
        ]
    ),
    st.text(max_size=20),
    st.uuids().map(str),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
)


@st.composite
def quoted_strings(draw) -> str:
    """A JSON string as RFC 7644 compValue allows, or almost: escaped quotes,
    \\u escapes, backslashes escaping nothing (DOMAIN\\user), unterminated."""
    text = draw(_interesting_text)
    style = draw(st.sampled_from(["json", "ascii", "raw", "unterminated"]))
    if style == "json":
        return json.dumps(text, ensure_ascii=False)
    if style == "ascii":
        return json.dumps(text)
    if style == "raw":
        return '"' + text.replace('"', '\\"') + '"'
    return '"' + text


comparison_values = st.one_of(
    quoted_strings(),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "null", "1e5", "-0", "1.5E-3", "01"]).flatmap(
        any_case
    ),
)

_spaces = st.sampled_from([" ", " ", " ", "  ", "\t", "\n"])


@st.composite
def comparisons(draw, paths=attribute_paths) -> str:
    path = draw(paths)
    if draw(st.integers(0, 9)) == 0:
        return f"{path}{draw(_spaces)}{draw(any_case('pr'))}"
    gap = draw(_spaces)
    return f"{path}{gap}{draw(operators)}{gap}{draw(comparison_values)}"


@st.composite
def value_paths(draw, inner) -> str:
    """emails[type eq "work"], optionally followed by .value op x (Entra ID's form)."""
    text = f"{draw(multi_valued_names)}[{draw(inner)}]"
    if draw(st.booleans()):
        sub = draw(sub_attribute_names)
        text += f".{sub} {draw(operators)} {draw(comparison_values)}"
    return text


def _combined(children, value_path=value_paths):
    """Brackets, not, and/or over `children`; with `value_path`, brackets after an
    attribute name too."""
    keyword = st.sampled_from(["and", "or"]).flatmap(any_case)
    combined = [
        st.builds(lambda c: f"({c})", children),
        st.builds(lambda n, c: f"{n} ({c})", st.sampled_from(["not", "NOT"]), children),
        st.builds(lambda n, c: f"{n}({c})", any_case("not"), children),
        st.builds(lambda a, k, b: f"{a} {k} {b}", children, keyword, children),
    ]
    if value_path is not None:
        combined.append(value_path(children))
    return st.one_of(combined)


_row_conditions = st.recursive(
    comparisons(sub_attribute_names), _combined, max_leaves=4
)

# -- per resource type: paths that exist, values of the attribute's type


def _typed_values(attribute) -> st.SearchStrategy[str]:
    if attribute.filter and attribute.filter.scim_id:
        typed = st.uuids().map(lambda u: json.dumps(str(u)))
    elif attribute.type == "boolean":
        typed = st.sampled_from(["true", "false", '"True"', '"false"'])
    elif attribute.type == "dateTime":
        typed = st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(
                lambda d: json.dumps(d.isoformat())
            ),
            st.dates().map(lambda d: json.dumps(d.isoformat())),
            st.sampled_from(
                [
                    '"9999-12-31T23:59:59.999999Z"',
                    '"9999-12-31T23:59:59-01:00"',
                    '"0001-01-01T00:00:00+14:00"',
                    '"0001-01-01"',
                    '"2024-02-30T00:00:00Z"',
                ]
            ),
        )
    else:
        typed = quoted_strings()
    return st.one_of(typed, typed, typed, comparison_values)


def _resource_comparisons(schema, multi_only=None):
    """Comparisons on `schema`'s attributes, mostly on those a filter may name; inside
    the brackets of the multi-valued attribute `multi_only`, on its sub-attributes."""
    filterable, others = [], []
    for urn, attributes in schema.namespaces():
        for attribute in attributes.values():
            if multi_only is not None:
                if attribute is multi_only:
                    for sub in attribute.sub_attributes:
                        (filterable if sub.filter else others).append((sub.name, sub))
                continue
            named = [(attribute.name, attribute)] + [
                (f"{attribute.name}.{sub.name}", sub)
                for sub in attribute.sub_attributes
            ]
            for path, item in named + [(f"{urn}:{p}", i) for p, i in named]:
                usable = item.filter or (item is attribute and attribute.rows)
                (filterable if usable else others).append((path, item))

    @st.composite
    def comparison(draw) -> str:
        pairs = others if not filterable or not draw(st.integers(0, 7)) else filterable
        pairs = pairs or filterable
        path, attribute = draw(st.sampled_from(pairs))
        path = draw(any_case(path))
        if draw(st.integers(0, 7)) == 0:
            return f"{path} pr"
        return f"{path} {draw(operators)} {draw(_typed_values(attribute))}"

    return comparison()


def _resource_filters(schema):
    # Brackets work on attributes kept as rows; others are refused, now and then tried.
    rows = [a for a in schema.core.values() if a.rows is not None]
    multi = rows + [a for a in schema.core.values() if a.kind == MULTI and not a.rows]

    row_comparisons = {a.name: _resource_comparisons(schema, a) for a in multi}
    row_conditions = {
        name: st.recursive(
            comparison,
            lambda children: _combined(children, value_path=None),
            max_leaves=3,
        )
        for name, comparison in row_comparisons.items()
    }

    @st.composite
    def value_path(draw, _children) -> str:
        attribute = draw(st.sampled_from(rows if draw(st.integers(0, 7)) else multi))
        inner = draw(row_conditions[attribute.name])
        text = f"{draw(any_case(attribute.name))}[{inner}]"
        if draw(st.booleans()):
            text += "." + draw(row_comparisons[attribute.name])
        return text

    return st.recursive(
        st.one_of(_resource_comparisons(schema), value_path(None)),
        lambda children: _combined(children, value_path),
        max_leaves=8,
    )


_user_filters, _group_filters = (_resource_filters(s) for s in RESOURCE_SCHEMAS)
filters = st.one_of(
    _user_filters,
    _user_filters,
    _group_filters,
    st.recursive(
        st.one_of(comparisons(), value_paths(_row_conditions)), _combined, max_leaves=8
    ),
)
"""Filters in RFC 7644 grammar: on one resource type's own attributes with values
of their types (most compile), or on any attribute anywhere (many are refused: a
bracket where none may go, a sub-attribute of a plain string, a string for a date)."""

_tokens = st.one_of(
    attribute_paths,
    operators,
    comparison_values,
    st.sampled_from(["(", ")", "[", "]", ".", ":", "and", "or", "not", "pr", '"']),
)
token_soup = st.lists(_tokens, max_size=12).map(" ".join)
"""Grammar tokens in random order: the parser's error paths."""

filter_texts = st.one_of(filters, token_soup, st.text(max_size=60))


# ------------------------------------------------------------------------------ PATCH

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        _interesting_text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(attribute_paths, sub_attribute_names, st.text(max_size=8)),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
"""Any JSON value, with keys that are often attribute names."""

_patch_paths = st.one_of(
    attribute_paths,
    value_paths(_row_conditions),
    st.builds(lambda m, c: f"{m}[{c}]", multi_valued_names, _row_conditions),
    st.sampled_from(
        [
            "members",
            'members[value eq "00000000-0000-0000-0000-000000000000"]',
            f'members[value eq "{MEMBER}"]',
            f'members[value eq "{MEMBER}" or value eq "{FOREIGN_MEMBER}"]',
            "manager",
            "displayName",
            "userName",
            'emails[type eq "work"].value',
            'emails[type eq "work" and primary eq true]',
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:custom:2.0:User:thing",
            "name.givenName",
            "active",
            "",
            " ",
            "a[",
            "emails[]",
        ]
    ).flatmap(any_case),
    st.text(max_size=30),
)

_scim_values = st.one_of(
    st.sampled_from([True, False, "True", "False", "", None, [], {}]),
    st.builds(lambda v: [{"value": v}], st.uuids().map(str) | _interesting_text),
    st.builds(
        lambda v, t, p: {"value": v, "type": t, "primary": p},
        _interesting_text,
        st.sampled_from(["work", "home", "other"]),
        st.sampled_from([True, False, "true"]),
    ),
    json_values,
)


@st.composite
def operations(draw) -> dict:
    """One PatchOp operation as Entra ID, Okta or a careless client writes it."""
    operation = {}
    op_key = draw(st.sampled_from(["op", "Op", "OP"]))
    operation[op_key] = draw(
        st.one_of(
            st.sampled_from(["add", "remove", "replace"]).flatmap(any_case),
            st.sampled_from(["delete", "", "move"]),
            json_values,
        )
    )
    if draw(st.integers(0, 5)):
        key = draw(st.sampled_from(["path", "Path"]))
        operation[key] = draw(st.one_of(_patch_paths, json_values))
    if draw(st.integers(0, 5)):
        key = draw(st.sampled_from(["value", "Value"]))
        operation[key] = draw(
            st.one_of(
                _scim_values,
                st.dictionaries(attribute_paths, _scim_values, max_size=4),
            )
        )
    return operation


@st.composite
def patch_bodies(draw) -> object:
    """A PatchOp body: mostly well-formed around fuzzed operations, sometimes not."""
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(json_values)
    if shape == 4:
        return {"schemas": [PATCH_OP], "Operations": draw(st.lists(json_values))}
    body = {}
    if shape != 1:
        body[draw(st.sampled_from(["schemas", "Schemas"]))] = draw(
            st.sampled_from([[PATCH_OP], [PATCH_OP.upper()], [PATCH_OP, "x"]])
        )
    if shape != 2:
        key = draw(st.sampled_from(["Operations", "operations"]))
        body[key] = (
            draw(json_values)
            if shape == 3
            else draw(st.lists(operations(), max_size=5))
        )
    return body
