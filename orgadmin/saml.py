"""An organization's SAML service provider: python3-saml settings built from its
SSOConfiguration, and the checks of the IdP's answer with their explanations.

The URLs come from ORGADMIN_BASE_URL (orgadmin.public_urls), never from the request's
Host header: python3-saml compares the response's Destination and Recipient with the
URL rebuilt from `request_data`, and the IdP was given the public one.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from allauth.socialaccount.models import SocialApp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.http import HttpRequest
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from orgadmin.models import ClaimedDomain, Organization, SSOConfiguration
from orgadmin.public_urls import saml_service_provider_urls
from orgadmin.saml_metadata import certificate_fingerprint, parse_certificates

# allauth's provider id ("saml") with one sub-provider per organization: a SAML account
# of one organization's IdP is stored under that organization's id only, so it never
# signs a person in through another organization.
PROVIDER = "saml"
PROVIDER_ID_PREFIX = "saml-organization-"

# Where the email is read from, first found wins; the NameID comes last. Entra ID sends
# the `emailaddress` claim URI, Okta the names its admin typed (often `email`).
EMAIL_ATTRIBUTES = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "email",
    "Email",
    "emailaddress",
    "mail",
)
GIVEN_NAME_ATTRIBUTES = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:oid:2.5.4.42",
    "firstName",
    "givenName",
    "given_name",
)
FAMILY_NAME_ATTRIBUTES = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:oid:2.5.4.4",
    "lastName",
    "surname",
    "sn",
    "family_name",
)


def provider_id_for(organization: Organization) -> str:
    # The pk, not the slug: renaming an organization keeps its people's SAML accounts.
    return f"{PROVIDER_ID_PREFIX}{organization.pk}"


def social_app_for(configuration: SSOConfiguration) -> SocialApp:
    """The allauth app of one organization, built on each use and never saved."""
    organization = configuration.organization
    app = SocialApp(
        provider=PROVIDER,
        provider_id=provider_id_for(organization),
        name=organization.name,
        client_id=organization.slug,
        settings={
            "attribute_mapping": {
                "email": list(EMAIL_ATTRIBUTES),
                "first_name": list(GIVEN_NAME_ATTRIBUTES),
                "last_name": list(FAMILY_NAME_ATTRIBUTES),
            },
            "use_nameid_for_email": True,
        },
    )
    # The provider reads the configuration from the app instead of querying it again.
    app.sso_configuration = configuration
    return app


def configuration_for_email(email: str) -> SSOConfiguration | None:
    """The SSO of the organization that verified the email's domain, when it signs in."""
    domain = email.strip().lower().rpartition("@")[2]
    configuration = (
        SSOConfiguration.objects.select_related("organization")
        .filter(
            organization__claimed_domains__domain=domain,
            organization__claimed_domains__status__in=ClaimedDomain.VERIFIED_STATUSES,
        )
        .first()
    )
    return configuration if configuration and configuration.signs_in else None


def saml_settings(configuration: SSOConfiguration) -> dict[str, Any]:
    """python3-saml's settings, strict, for this organization's IdP."""
    sp = saml_service_provider_urls(configuration.organization)
    certificates = [
        _base64_body(c) for c in parse_certificates(configuration.idp_x509_certificates)
    ]
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {
                "url": sp.acs_url,
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST,
            },
            "NameIDFormat": OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS,
        },
        "idp": {
            "entityId": configuration.idp_entity_id,
            "singleSignOnService": {
                "url": configuration.idp_sso_url,
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
            },
            "x509certMulti": {"signing": certificates},
        },
        "security": {
            "authnRequestsSigned": False,
            "requestedAuthnContext": False,
            # Entra ID signs the assertion, Okta the response or both: either will do,
            # and python3-saml refuses a response with neither.
            "wantAssertionsSigned": False,
            "wantMessagesSigned": False,
            "wantNameId": True,
            # Okta sends no AttributeStatement unless its admin adds attributes.
            "wantAttributeStatement": False,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
            "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
        },
    }


def request_data(request: HttpRequest, path: str) -> dict[str, Any]:
    """The request as python3-saml sees it, at ORGADMIN_BASE_URL + path."""
    base = urlsplit(settings.ORGADMIN_BASE_URL)
    return {
        "https": "on" if base.scheme == "https" else "off",
        "http_host": base.netloc,
        "script_name": base.path.rstrip("/"),
        "path_info": path,
        "get_data": request.GET.copy(),
        "post_data": request.POST.copy(),
    }


def build_auth(request: HttpRequest, configuration: SSOConfiguration, path: str):
    return OneLogin_Saml2_Auth(
        request_data(request, path), old_settings=saml_settings(configuration)
    )


def _base64_body(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode()


# ------------------------------------------------------------------ reading a response


@dataclass
class Received:
    """What an IdP's response says, read before (and whether or not) it is trusted."""

    response_id: str = ""
    issuer: str = ""
    destination: str = ""
    audiences: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    in_response_to: str = ""
    not_before: str = ""
    not_on_or_after: str = ""
    name_id: str = ""
    name_id_format: str = ""
    signing_certificates: list[str] = field(default_factory=list)
    status: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def email(self) -> tuple[str, str]:
        """The email claimed and where it was found (an attribute name or NameID)."""
        for name in EMAIL_ATTRIBUTES:
            values = self.attributes.get(name) or []
            if values and "@" in values[0]:
                return values[0].strip().lower(), name
        if "@" in self.name_id:
            return self.name_id.strip().lower(), "NameID"
        return "", ""

    def first(self, names: tuple[str, ...]) -> str:
        for name in names:
            values = self.attributes.get(name) or []
            if values and values[0].strip():
                return values[0].strip()
        return ""


@dataclass
class Assertion:
    """A response that passed every check of python3-saml's strict mode."""

    received: Received
    assertion_id: str
    expires_at: datetime
    auth: OneLogin_Saml2_Auth

    @property
    def idp_initiated(self) -> bool:
        return not self.received.in_response_to


class ResponseRefused(Exception):
    """The IdP's response is not trusted; `reason` is for the organization's admins."""

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        configured: str = "",
        received: Received | None = None,
        shown: str = "",
    ):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.configured = configured
        self.received = received or Received()
        self.shown = shown


NS = OneLogin_Saml2_Constants.NSMAP


def read_received(saml_response: str) -> Received:
    """Read a base64 SAMLResponse without trusting it; never raises on odd input."""
    received = Received()
    try:
        document = OneLogin_Saml2_XML.to_etree(
            base64.b64decode(saml_response or "", validate=False)
        )
    except (binascii.Error, ValueError, etree.XMLSyntaxError, TypeError, Exception):
        return received
    if not isinstance(document, etree._Element):
        return received

    def texts(xpath: str) -> list[str]:
        return [
            (node.text or "").strip()
            for node in document.xpath(xpath, namespaces=NS)
            if isinstance(node, etree._Element)
        ]

    def attribute(xpath: str) -> str:
        values = document.xpath(xpath, namespaces=NS)
        return str(values[0]) if values else ""

    received.response_id = document.get("ID", "")
    received.destination = document.get("Destination", "")
    received.in_response_to = document.get("InResponseTo", "")
    issuers = texts("/samlp:Response/saml:Issuer") + texts(
        "/samlp:Response/saml:Assertion/saml:Issuer"
    )
    received.issuer = issuers[0] if issuers else ""
    received.audiences = texts("//saml:AudienceRestriction/saml:Audience")
    received.recipients = [
        str(value)
        for value in document.xpath(
            "//saml:SubjectConfirmationData/@Recipient", namespaces=NS
        )
    ]
    received.not_before = attribute("//saml:Assertion/saml:Conditions/@NotBefore")
    received.not_on_or_after = attribute(
        "//saml:Assertion/saml:Conditions/@NotOnOrAfter"
    )
    name_ids = document.xpath(
        "//saml:Assertion/saml:Subject/saml:NameID", namespaces=NS
    )
    if name_ids:
        received.name_id = (name_ids[0].text or "").strip()
        received.name_id_format = name_ids[0].get("Format", "")
    received.signing_certificates = [
        certificate_fingerprint("".join(text.split()))
        for text in texts("//ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    ]
    received.status = attribute("/samlp:Response/samlp:Status/samlp:StatusCode/@Value")
    for node in document.xpath(
        "//saml:Assertion/saml:AttributeStatement/saml:Attribute", namespaces=NS
    ):
        values = [
            (value.text or "").strip()
            for value in node.xpath("saml:AttributeValue", namespaces=NS)
        ]
        received.attributes.setdefault(node.get("Name", ""), []).extend(values)
    return received


def validate_response(
    request: HttpRequest,
    configuration: SSOConfiguration,
    *,
    path: str,
    request_id: str | None,
) -> Assertion:
    """Check the POSTed SAMLResponse in python3-saml's strict mode, or raise
    ResponseRefused with what was configured and what was received."""
    saml_response = request.POST.get("SAMLResponse", "")
    received = read_received(saml_response)
    if not saml_response:
        raise ResponseRefused(
            "no_response", "The IdP posted no SAMLResponse.", received=received
        )
    auth = build_auth(request, configuration, path)
    try:
        response = OneLogin_Saml2_Response(auth.get_settings(), saml_response)
        response.is_valid(auth._request_data, request_id, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as error:
        raise _explain(error, configuration, auth, received, request_id) from error
    except (OneLogin_Saml2_Error, binascii.Error, ValueError, etree.Error) as error:
        raise ResponseRefused(
            "malformed",
            f"The response cannot be read as SAML: {error}.",
            received=received,
        ) from error
    auth.store_valid_response(response)
    expires = (
        auth.get_last_assertion_not_on_or_after()
        or response.get_assertion_not_on_or_after()
    )
    expires_at = (
        datetime.fromtimestamp(expires, UTC)
        if expires
        else datetime.now(UTC) + timedelta(hours=1)
    )
    # python3-saml accepts a response up to its clock drift after NotOnOrAfter.
    expires_at += timedelta(seconds=OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT)
    return Assertion(
        received=received,
        assertion_id=auth.get_last_assertion_id() or received.response_id,
        expires_at=expires_at,
        auth=auth,
    )


def _explain(
    error: OneLogin_Saml2_ValidationError,
    configuration: SSOConfiguration,
    auth: OneLogin_Saml2_Auth,
    received: Received,
    request_id: str | None,
) -> ResponseRefused:
    codes = OneLogin_Saml2_ValidationError
    sp = auth.get_settings().get_sp_data()
    acs_url = sp["assertionConsumerService"]["url"]
    configured_fingerprints = [
        certificate_fingerprint(_base64_body(c))
        for c in parse_certificates(configuration.idp_x509_certificates)
    ]

    def refused(code: str, reason: str, configured: str = "", shown: str = ""):
        return ResponseRefused(
            code, reason, configured=configured, received=received, shown=shown
        )

    now = f"orgadmin's clock: {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    if error.code == codes.INVALID_SIGNATURE:
        if set(received.signing_certificates) & set(configured_fingerprints):
            return refused(
                "tampered",
                "The signature does not match the content: the response was changed "
                "after the IdP signed it.",
                "certificates " + ", ".join(configured_fingerprints),
            )
        return refused(
            "wrong_certificate",
            "The response is signed by a certificate that is not configured. If the "
            "IdP rolled its certificate over, add the new one (or refresh the "
            "metadata).",
            "certificates " + ", ".join(configured_fingerprints),
        )
    if error.code in (codes.NO_SIGNATURE_FOUND, codes.NO_SIGNED_ASSERTION):
        return refused(
            "unsigned",
            "The response is not signed. Have the IdP sign the assertion or the "
            "response (Entra ID and Okta do by default).",
        )
    if error.code == codes.WRONG_AUDIENCE:
        return refused(
            "wrong_audience",
            "The response is meant for another application (its Audience is not "
            "this organization's entity ID). Check the Identifier (Entity ID) in the "
            "IdP.",
            f"entity ID {sp['entityId']}",
        )
    if error.code == codes.WRONG_ISSUER:
        return refused(
            "wrong_issuer",
            "The response comes from another IdP than the one configured (its "
            "Issuer differs).",
            f"IdP entity ID {configuration.idp_entity_id}",
        )
    if error.code in (codes.WRONG_DESTINATION, codes.EMPTY_DESTINATION):
        return refused(
            "wrong_destination",
            "The response was sent to another address than this organization's ACS "
            "URL. Check the Reply URL (ACS URL) in the IdP.",
            f"ACS URL {acs_url}",
        )
    if error.code == codes.ASSERTION_EXPIRED:
        return refused(
            "expired",
            "The assertion has expired. Check the clocks of the IdP and of orgadmin, "
            "then sign in again.",
            now,
        )
    if error.code == codes.ASSERTION_TOO_EARLY:
        return refused(
            "not_yet_valid",
            "The assertion is not valid yet: the IdP's clock is ahead of orgadmin's.",
            now,
        )
    if error.code == codes.WRONG_INRESPONSETO:
        return refused(
            "wrong_in_response_to",
            "The response answers another sign-in request than the one this "
            "browser started.",
            f"request {request_id}",
        )
    if error.code == codes.WRONG_SUBJECTCONFIRMATION:
        if received.recipients and acs_url not in received.recipients:
            return refused(
                "wrong_recipient",
                "The assertion names another Recipient than this organization's ACS "
                "URL. Check the Reply URL (ACS URL) in the IdP.",
                f"ACS URL {acs_url}",
            )
        return refused(
            "expired",
            "The assertion's subject confirmation has expired or does not match "
            "this sign-in; sign in again.",
            now,
        )
    if error.code == codes.STATUS_CODE_IS_NOT_SUCCESS:
        return refused("idp_refused", f"The IdP did not sign the person in: {error}.")
    if error.code in (codes.NO_NAMEID, codes.EMPTY_NAMEID):
        return refused(
            "no_name_id",
            "The assertion has no NameID. Send the email as NameID (Entra ID: "
            "user.mail).",
        )
    if error.code in (
        codes.DEPRECATED_SIGNATURE_METHOD,
        codes.DEPRECATED_DIGEST_METHOD,
    ):
        return refused(
            "weak_signature",
            "The response is signed with SHA-1, which orgadmin refuses. Set the "
            "IdP's signing algorithm to SHA-256.",
        )
    return refused(
        "malformed",
        "The response is not a SAML response orgadmin can trust (a signature that "
        f"does not cover what it should, or an unexpected shape): {error}.",
    )
