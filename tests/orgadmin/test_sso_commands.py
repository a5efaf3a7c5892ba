"""`manage.py configure_sso`, run as an operator types it: outputs, audit and errors."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.management import execute_from_command_line

from orgadmin.models import AuditEvent, SSOConfiguration
from tests.orgadmin.test_sso_sign_in import ACS_URL, ENTITY_ID, post_to_acs
from tests.saml_idp import FakeIdP

# Run from the command line, Django closes the database connections when the command
# ends, which a test transaction would not survive: these tests commit instead.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def idp():
    return FakeIdP()


def run(*arguments):
    """Run the command as typed on the command line; return its exit code."""
    try:
        execute_from_command_line(["manage.py", "configure_sso", *arguments])
    except SystemExit as exit:
        return exit.code
    return 0


def field_arguments(idp, certificate):
    return [
        "acme",
        "--idp-entity-id",
        idp.entity_id,
        "--sso-url",
        idp.sso_url,
        "--certificate",
        str(certificate),
    ]


def test_configure_sso_with_fields_saves_and_prints_the_settings(
    organization, idp, tmp_path, capsys
):
    certificate = tmp_path / "idp.pem"
    certificate.write_text(idp.certificate)
    code = run(
        *field_arguments(idp, certificate),
        "--enable",
        "--no-jit",
        "--allow-idp-initiated",
    )
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "SSO for acme is saved."
    assert f"  IdP entity ID:              {idp.entity_id}" in out
    assert "  Certificate:                CN=Test IdP, until " in out
    assert "  Sign-in with SSO:           on" in out
    assert "  Just-in-time provisioning:  off" in out
    assert "  IdP-initiated sign-in:      on" in out
    assert f"  SP entity ID:               {ENTITY_ID}" in out
    configuration = SSOConfiguration.objects.get(organization=organization)
    assert configuration.enabled and not configuration.jit_provisioning
    event = AuditEvent.objects.get(action="sso.updated")
    assert event.actor_label == "Operator (manage.py configure_sso)"
    assert event.actor_type == "operator"


def test_configure_sso_from_a_metadata_file_signs_people_in(
    organization, idp, tmp_path, client, capsys
):
    metadata = tmp_path / "Acme.xml"
    metadata.write_text(idp.metadata_xml())
    assert (
        run(
            "acme",
            "--metadata-file",
            str(metadata),
            "--enable",
            "--allow-idp-initiated",
        )
        == 0
    )
    response = post_to_acs(client, idp.response(acs_url=ACS_URL, audience=ENTITY_ID))
    assert response.status_code == 302
    assert client.get("/", follow=True).context["user"].email == "pat@acme.example"


def test_a_raw_cer_certificate_file_is_accepted(organization, idp, tmp_path, capsys):
    der = x509.load_pem_x509_certificate(idp.certificate.encode()).public_bytes(
        Encoding.DER
    )
    certificate = tmp_path / "Acme.cer"
    certificate.write_bytes(der)
    arguments = field_arguments(idp, certificate)
    assert run(*arguments) == 0
    capsys.readouterr()
    assert run(*arguments) == 0
    assert capsys.readouterr().out.startswith("SSO for acme: nothing changed.")
    assert AuditEvent.objects.filter(action="sso.updated").count() == 1


def one_line_error(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


def test_an_unknown_slug_is_one_line_on_stderr(db, idp, tmp_path, capsys):
    metadata = tmp_path / "m.xml"
    metadata.write_text(idp.metadata_xml())
    assert run("nope", "--metadata-file", str(metadata)) == 1
    assert (
        one_line_error(capsys) == 'CommandError: No organization with the slug "nope".'
    )


def test_an_unreadable_certificate_is_one_line_on_stderr(
    organization, idp, tmp_path, capsys
):
    certificate = tmp_path / "idp.pem"
    certificate.write_text(
        "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"
    )
    code = run(
        *field_arguments(idp, certificate),
    )
    assert code == 1
    assert "This certificate cannot be read" in one_line_error(capsys)
    assert not SSOConfiguration.objects.exists()


def test_a_missing_certificate_file_is_one_line_on_stderr(organization, idp, capsys):
    code = run(
        *field_arguments(idp, "/nonexistent/idp.pem"),
    )
    assert code == 1
    assert one_line_error(capsys) == (
        "CommandError: /nonexistent/idp.pem: No such file or directory."
    )


def test_metadata_without_a_signing_certificate_is_one_line_on_stderr(
    organization, idp, tmp_path, capsys
):
    xml = idp.metadata_xml()
    start, end = xml.index("<KeyDescriptor"), xml.index("</KeyDescriptor>") + 16
    metadata = tmp_path / "m.xml"
    metadata.write_text(xml[:start] + xml[end:])
    assert run("acme", "--metadata-file", str(metadata)) == 1
    assert one_line_error(capsys).endswith("This metadata has no signing certificate.")


@pytest.mark.parametrize(
    "arguments",
    [
        ["acme"],
        ["acme", "--idp-entity-id", "x"],
        ["acme", "--metadata-file", "m.xml", "--sso-url", "https://x"],
        ["acme", "--enable", "--disable"],
    ],
)
def test_incomplete_or_contradictory_arguments_are_one_line_on_stderr(
    organization, capsys, arguments
):
    assert run(*arguments) != 0
    one_line_error(capsys)


def test_require_sso_without_sign_in_is_refused(organization, idp, tmp_path, capsys):
    metadata = tmp_path / "m.xml"
    metadata.write_text(idp.metadata_xml())
    assert run("acme", "--metadata-file", str(metadata), "--require-sso") == 1
    assert one_line_error(capsys) == "CommandError: Allow sign-in with SSO first."
