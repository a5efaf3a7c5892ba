"""IdP settings from what an admin has: a metadata URL, a metadata XML file, or a
certificate (PEM, or a `.cer` file in DER or Base64).

Fetching a metadata URL is a request from the server to an address an admin typed, so
it is bounded: a timeout, a size limit, `https` unless DEBUG, no redirect, and no
private, loopback or link-local address unless ORGADMIN_SSO_METADATA_ALLOWED_NETWORKS
names it (an ADFS on the company network).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import ipaddress
import socket
import ssl
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

PEM_HEADER = "-----BEGIN CERTIFICATE-----"
PEM_FOOTER = "-----END CERTIFICATE-----"
METADATA_MAX_BYTES = 1_000_000


class MetadataError(ValueError):
    """Metadata or a certificate could not be used; the message says why, for people."""


@dataclass(frozen=True)
class IdPSettings:
    entity_id: str
    sso_url: str
    certificates: str  # PEM, one or more


# -------------------------------------------------------------------------- certificates


def parse_certificates(text: str) -> list[x509.Certificate]:
    """Read one or more PEM certificates; a bare base64 body (as in metadata) is accepted."""
    text = (text or "").strip()
    if not text:
        return []
    if text.startswith("<") or "X509Certificate" in text:
        raise MetadataError(
            "This is XML, not a certificate. Paste the certificate (Base64), or use "
            "the IdP metadata instead."
        )
    if PEM_HEADER not in text:
        body = "".join(text.split())
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MetadataError(
                f"This is not a certificate. Paste it as PEM, starting with {PEM_HEADER}."
            ) from None
        text = "\n".join([PEM_HEADER, *textwrap.wrap(body, 64), PEM_FOOTER])
    try:
        return x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise MetadataError(
            "This certificate cannot be read. Download the signing certificate "
            "(Base64 / PEM) from your identity provider and paste all of it, "
            f"from {PEM_HEADER} to {PEM_FOOTER}."
        ) from None


def read_certificate_file(data: bytes) -> list[x509.Certificate]:
    """A `.cer`/`.crt`/`.pem` upload: DER (Entra ID's "Certificate (Raw)") or Base64."""
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MetadataError(
            "This file is not a certificate: upload the .cer (Base64 or raw) file "
            "your identity provider offers."
        ) from None
    return parse_certificates(text)


def as_pem(certificates: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)


def certificate_fingerprint(base64_der: str) -> str:
    """The SHA-256 fingerprint, as IdPs show it (AB:CD:...), of a base64 DER body."""
    try:
        der = base64.b64decode(base64_der)
    except (binascii.Error, ValueError):
        return "(unreadable)"
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprint_of(certificate: x509.Certificate) -> str:
    return certificate_fingerprint(
        base64.b64encode(certificate.public_bytes(Encoding.DER)).decode()
    )


# ------------------------------------------------------------------------------ metadata


def parse_metadata(xml: str | bytes) -> IdPSettings:
    """The entity ID, HTTP-Redirect sign-in URL and signing certificates of IdP metadata
    (Entra ID's "Federation Metadata XML", Okta's "Identity Provider metadata")."""
    if isinstance(xml, str):
        xml = xml.encode()
    if not xml.strip():
        raise MetadataError("The metadata is empty.")
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT
        )
    except (etree.XMLSyntaxError, ValueError, Exception) as error:
        raise MetadataError(f"This is not SAML metadata XML ({error}).") from None
    idp = parsed.get("idp") or {}
    if not idp.get("entityId"):
        raise MetadataError(
            "This metadata describes no identity provider (no IDPSSODescriptor): "
            "download the IdP's metadata, not orgadmin's."
        )
    sso_url = (idp.get("singleSignOnService") or {}).get("url", "")
    if not sso_url:
        raise MetadataError(
            "This metadata has no sign-in URL with the HTTP-Redirect binding."
        )
    bodies = list((idp.get("x509certMulti") or {}).get("signing") or [])
    if not bodies and idp.get("x509cert"):
        bodies = [idp["x509cert"]]
    if not bodies:
        raise MetadataError("This metadata has no signing certificate.")
    certificates = []
    for body in bodies:
        certificates.extend(parse_certificates(body))
    return IdPSettings(
        entity_id=idp["entityId"], sso_url=sso_url, certificates=as_pem(certificates)
    )


def fetch_metadata(url: str) -> IdPSettings:
    """Read and parse the metadata at `url`, within the limits above."""
    return parse_metadata(fetch_metadata_xml(url))


def fetch_metadata_xml(url: str) -> bytes:
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if settings.DEBUG else ("https",)
    if parts.scheme not in allowed_schemes or not parts.hostname:
        raise MetadataError("The metadata URL must start with https://.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    timeout = settings.ORGADMIN_SSO_METADATA_TIMEOUT
    address = _public_address(parts.hostname, port)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    connection_class = (
        _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    )
    connection = connection_class(parts.hostname, port, address, timeout=timeout)
    try:
        connection.request(
            "GET",
            path,
            headers={"Accept": "application/samlmetadata+xml, application/xml"},
        )
        response = connection.getresponse()
        if response.status in (301, 302, 303, 307, 308):
            raise MetadataError(
                f"The metadata URL redirects to {response.getheader('Location')}: "
                "enter that URL instead."
            )
        if response.status != 200:
            raise MetadataError(
                f"The metadata URL answered HTTP {response.status} {response.reason}."
            )
        body = response.read(METADATA_MAX_BYTES + 1)
    except (OSError, http.client.HTTPException) as error:
        raise MetadataError(f"The metadata URL could not be read: {error}.") from None
    finally:
        connection.close()
    if len(body) > METADATA_MAX_BYTES:
        raise MetadataError(
            f"The metadata is larger than {METADATA_MAX_BYTES // 1000} kB; is this the "
            "right URL?"
        )
    return body


def _public_address(host: str, port: int) -> str:
    """The address to connect to; refused when it is not on the public internet."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise MetadataError(
            f"The metadata host {host} cannot be found ({error})."
        ) from None
    allowed = [
        ipaddress.ip_network(network)
        for network in settings.ORGADMIN_SSO_METADATA_ALLOWED_NETWORKS
    ]
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if any(address in network for network in allowed):
            continue
        if not address.is_global:
            raise MetadataError(
                f"The metadata host {host} is a private or local address ({address}); "
                "orgadmin only reads metadata from the public internet."
            )
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connect to the address already checked, so a second DNS answer cannot differ."""

    def __init__(self, host: str, port: int, address: str, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    not_after: datetime
    fingerprint: str
    days_left: int

    @property
    def expiring(self) -> bool:
        """Within the first warning period (30 days), or expired."""
        return self.days_left <= 30


def describe_certificates(pem: str) -> list[CertificateInfo]:
    """The configured certificates for the SSO tab; unreadable text shows none."""
    try:
        certificates = parse_certificates(pem)
    except MetadataError:
        return []
    now = datetime.now(UTC)
    return [
        CertificateInfo(
            subject=c.subject.rfc4514_string() or "(no subject)",
            not_after=c.not_valid_after_utc,
            fingerprint=fingerprint_of(c),
            days_left=(c.not_valid_after_utc - now).days,
        )
        for c in certificates
    ]
