"""Request bodies: SCIM JSON under either media type, with a size limit."""

from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from scim.errors import PayloadTooLarge

# Large enough for a group PUT of ~20,000 members; stated in /ServiceProviderConfig.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


class ScimJSONParser(BaseParser):
    """Parse `application/scim+json`; Entra adds `; charset=utf-8`, which is accepted."""

    media_type = "application/scim+json"

    def parse(self, stream, media_type=None, parser_context=None):
        # Read one byte more than allowed, so that a body without Content-Length
        # (chunked) cannot grow without bound either.
        raw = stream.read(MAX_PAYLOAD_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(
                f"The request body is larger than {MAX_PAYLOAD_BYTES} bytes."
            )
        if not raw.strip():
            return {}
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ParseError(str(error)) from None


class PlainJSONParser(ScimJSONParser):
    media_type = "application/json"
