"""Request bodies: SCIM JSON under either media type, with a size limit."""

from __future__ import annotations

import io
import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from scim.errors import InvalidValue, LengthRequired, PayloadTooLarge, ScimError
from scim.limits import MAX_JSON_NESTING, MAX_PAYLOAD_BYTES


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
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ParseError(str(error)) from None
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None
        check_strings(data)
        return data


class PlainJSONParser(ScimJSONParser):
    media_type = "application/json"


def load_body_without_length(request) -> None:
    """Make a chunked body (no Content-Length) readable, bounded like any other.

    Django reads no body without Content-Length, so the request would look empty and
    be refused for a misleading reason. The body is read here only when the server
    delivers it de-chunked and terminated (PEP 3333 `wsgi.input_terminated`, as
    gunicorn does); otherwise the client is asked for a Content-Length.
    """
    meta = request.META
    if (
        meta.get("CONTENT_LENGTH")
        or "chunked" not in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()
    ):
        return
    if not meta.get("wsgi.input_terminated"):
        raise LengthRequired("Send the request body with a Content-Length header.")
    raw = meta["wsgi.input"].read(MAX_PAYLOAD_BYTES + 1)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            f"The request body is larger than {MAX_PAYLOAD_BYTES} bytes."
        )
    request._stream = io.BytesIO(raw)  # where DRF's Request reads the body from


def check_strings(data: Any) -> None:
    """Refuse a string no column can store (see `check_storable`), in keys or values."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_JSON_NESTING:
            raise ParseError(
                f"The JSON is nested deeper than {MAX_JSON_NESTING} levels."
            )
        if isinstance(value, str):
            check_storable(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                check_storable(key)
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def check_storable(
    text: str,
    *,
    subject: str = "A string",
    error: type[ScimError] = InvalidValue,
) -> None:
    """Refuse NUL characters (PostgreSQL rejects them) and lone surrogates such as
    "\\ud800" (not encodable as UTF-8): neither database can store them."""
    if "\x00" in text:
        raise error(f"{subject} cannot contain the NUL character (\\u0000).")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise error(
            f"{subject} is not valid Unicode: a lone surrogate such as \\ud800 "
            "cannot be stored."
        ) from None
