"""Responses are always `application/scim+json`, whatever the Accept header says."""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer


class ScimJSONRenderer(JSONRenderer):
    media_type = "application/scim+json"
    charset = "utf-8"


class AlwaysScimNegotiation(BaseContentNegotiation):
    """Entra's Test Connection sends no Accept header, and others send */*: never 406."""

    def select_parser(self, request, parsers):
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
