"""What one SCIM request may ask of the server, in one place.

The parsers and validators enforce these numbers and `/ServiceProviderConfig` states
those RFC 7643 section 5 has a place for (`bulk.maxPayloadSize`, `filter.maxResults`),
so the documents and the behaviour cannot drift apart. Past one, the request is refused
whole, with an RFC 7644 error body that names the limit.
"""

# A request body, in bytes (413): room for a group PUT of ~20,000 members.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
# Nesting of a JSON body (400 invalidSyntax): deeper than any SCIM document, and
# shallow enough that no parser hits Python's recursion limit.
MAX_JSON_NESTING = 32

# The largest page, and the default `count` (RFC 7644 section 3.4.2.4 clamps larger
# counts rather than refusing them).
MAX_RESULTS = 100

# A filter, in ?filter=, a .search body or a PATCH value path (400 invalidFilter).
MAX_FILTER_LENGTH = 2000
MAX_COMPARISONS = 50
# Deeper nesting than this is no real query; the limit also bounds the recursive walk.
MAX_FILTER_NESTING = 20

# Operations in one PATCH (400 tooMany).
MAX_OPERATIONS = 1000
# A PATCH path (400 invalidPath): room for an extension URN and an attribute around the
# longest filter allowed.
MAX_PATH_LENGTH = MAX_FILTER_LENGTH + 200
# Value paths parsed for one PATCH, in characters (400 tooMany): a millisecond or two
# per full-length filter, so 1000 of them would hold a worker for seconds. Okta's
# largest PATCH, a members[value eq "id"] per removed member, stays far below.
MAX_PATH_TEXT_PER_PATCH = 50 * MAX_FILTER_LENGTH

# Group members named by one POST, PUT or PATCH of a group, all operations together
# (400 tooMany): the size of a group PUT MAX_PAYLOAD_BYTES allows. It keeps each
# request to a few bounded queries; SQLite, for one, refuses a query with more than
# 32,766 parameters.
MAX_MEMBERS_PER_REQUEST = 20_000
