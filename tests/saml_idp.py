"""A test IdP: a key and certificate made at test time, and SAML responses really signed
with them (python3-saml's xmlsec), as Entra ID signs its assertions."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
ENTRA_EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
ENTRA_GIVEN_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
ENTRA_SURNAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"


def make_certificate(
    common_name: str = "Test IdP", *, days: int = 365, valid_from_days: int = -1
) -> tuple[str, str]:
    """An RSA key and a self-signed certificate, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=valid_from_days))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def _saml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_id_of(location: str) -> str:
    """The ID of the AuthnRequest in an HTTP-Redirect URL to the IdP."""
    saml_request = parse_qs(urlsplit(location).query)["SAMLRequest"][0]
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(saml_request)
    return etree.fromstring(xml).get("ID")


@dataclass
class FakeIdP:
    entity_id: str = "https://sts.windows.net/test-tenant/"
    sso_url: str = "https://login.microsoftonline.com/test-tenant/saml2"
    key: str = ""
    certificate: str = ""
    extra_certificates: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.key:
            self.key, self.certificate = make_certificate()

    def metadata_xml(self) -> str:
        bodies = [
            "".join(pem.strip().splitlines()[1:-1])
            for pem in [self.certificate, *self.extra_certificates]
        ]
        keys = "".join(
            '<KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>"
            for body in bodies
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" '
            'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
            f'entityID="{self.entity_id}">'
            '<IDPSSODescriptor protocolSupportEnumeration="'
            'urn:oasis:names:tc:SAML:2.0:protocol">'
            f"{keys}"
            '<SingleSignOnService Binding="'
            'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{self.sso_url}"/>'
            '<SingleSignOnService Binding="'
            'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="{self.sso_url}"/>'
            "</IDPSSODescriptor></EntityDescriptor>"
        )

    def assertion_xml(
        self,
        *,
        audience: str,
        recipient: str,
        email: str,
        in_response_to: str | None,
        name_id: str | None = None,
        attributes: dict[str, list[str]] | None = None,
        not_before: datetime | None = None,
        not_on_or_after: datetime | None = None,
        issuer: str | None = None,
        assertion_id: str | None = None,
    ) -> str:
        now = datetime.now(UTC)
        not_before = not_before or now - timedelta(minutes=5)
        not_on_or_after = not_on_or_after or now + timedelta(minutes=10)
        if attributes is None:
            attributes = {
                ENTRA_EMAIL: [email],
                ENTRA_GIVEN_NAME: ["Pat"],
                ENTRA_SURNAME: ["Lee"],
            }
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        statements = "".join(
            f'<saml:Attribute Name="{escape(name)}">'
            + "".join(
                f"<saml:AttributeValue>{escape(value)}</saml:AttributeValue>"
                for value in values
            )
            + "</saml:Attribute>"
            for name, values in attributes.items()
        )
        attribute_statement = (
            f"<saml:AttributeStatement>{statements}</saml:AttributeStatement>"
            if statements
            else ""
        )
        return (
            f'<saml:Assertion xmlns:saml="{SAML}" '
            f'ID="{assertion_id or "_a" + secrets.token_hex(16)}" Version="2.0" '
            f'IssueInstant="{_saml_time(now)}">'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            f'<saml:Subject><saml:NameID Format="{EMAIL_FORMAT}">'
            f"{escape(name_id or email)}</saml:NameID>"
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData{irt} NotOnOrAfter="'
            f'{_saml_time(not_on_or_after)}" Recipient="{escape(recipient)}"/>'
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_saml_time(not_before)}" '
            f'NotOnOrAfter="{_saml_time(not_on_or_after)}">'
            "<saml:AudienceRestriction>"
            f"<saml:Audience>{escape(audience)}</saml:Audience>"
            "</saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_saml_time(now)}" '
            f'SessionIndex="_s{secrets.token_hex(8)}"><saml:AuthnContext>'
            "<saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"{attribute_statement}</saml:Assertion>"
        )

    def response(
        self,
        *,
        acs_url: str,
        audience: str,
        email: str = "pat@acme.example",
        in_response_to: str | None = None,
        sign: str = "assertion",
        destination: str | None = None,
        recipient: str | None = None,
        key: str | None = None,
        certificate: str | None = None,
        tamper: bool = False,
        **assertion,
    ) -> str:
        """A base64 SAMLResponse; `sign` is "assertion" (Entra ID's default),
        "response", "both" or "none"."""
        key, certificate = key or self.key, certificate or self.certificate
        assertion_xml = self.assertion_xml(
            audience=audience,
            recipient=recipient or acs_url,
            email=email,
            in_response_to=in_response_to,
            **assertion,
        )
        if sign in ("assertion", "both"):
            assertion_xml = self._sign(assertion_xml, key, certificate)
        if tamper:
            assertion_xml = assertion_xml.replace(
                f">{email}</saml:NameID>", ">mallory@acme.example</saml:NameID>"
            ).replace(
                f"<saml:AttributeValue>{email}<",
                "<saml:AttributeValue>mallory@acme.example<",
            )
        xml = self.wrap(
            assertion_xml,
            destination=destination or acs_url,
            in_response_to=in_response_to,
        )
        if sign in ("response", "both"):
            xml = self._sign(xml, key, certificate)
        return base64.b64encode(xml.encode()).decode()

    def wrap(
        self,
        assertion_xml: str,
        *,
        destination: str,
        in_response_to: str | None,
        extensions: str = "",
    ) -> str:
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        return (
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" '
            f'ID="_r{secrets.token_hex(16)}" Version="2.0" '
            f'IssueInstant="{_saml_time(datetime.now(UTC))}" '
            f'Destination="{escape(destination)}"{irt}>'
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f"{extensions}"
            '<samlp:Status><samlp:StatusCode Value="'
            'urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
            f"{assertion_xml}</samlp:Response>"
        )

    @staticmethod
    def _sign(xml: str, key: str, certificate: str) -> str:
        signed = OneLogin_Saml2_Utils.add_sign(
            xml,
            key,
            certificate,
            sign_algorithm=OneLogin_Saml2_Constants.RSA_SHA256,
            digest_algorithm=OneLogin_Saml2_Constants.SHA256,
        )
        text = signed.decode() if isinstance(signed, bytes) else signed
        # Drop the XML declaration, if any, so the fragment can be embedded.
        return text.split("?>", 1)[1] if text.startswith("<?xml") else text
