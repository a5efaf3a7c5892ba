from pathlib import Path

from django.core.management.base import CommandError

from orgadmin import actions
from orgadmin.management.commands._base import OrgAdminCommand
from orgadmin.public_urls import saml_service_provider_urls
from orgadmin.saml_metadata import (
    MetadataError,
    as_pem,
    describe_certificates,
    parse_metadata,
    read_certificate_file,
)


class Command(OrgAdminCommand):
    help = (
        "Set an organization's SAML IdP, from its metadata file or from its entity ID, "
        "sign-in URL and certificate, and its sign-in switches; audited as the "
        "operator's change, as on the SSO tab."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Bad arguments are one line on stderr, as every other refusal of this command.
        parser.print_usage = lambda file=None: None
        return parser

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--metadata-file",
            help="The IdP's metadata XML (Entra ID: Federation Metadata XML).",
        )
        parser.add_argument("--idp-entity-id", help="The IdP's entity ID (Issuer).")
        parser.add_argument("--sso-url", help="The IdP's sign-in URL (HTTP-Redirect).")
        parser.add_argument(
            "--certificate", help="The IdP's signing certificate: a PEM or .cer file."
        )
        for name, what in (
            ("enable", "sign-in with SSO"),
            ("jit", "just-in-time provisioning"),
            ("require-sso", "Require SSO"),
            ("allow-idp-initiated", "IdP-initiated sign-in"),
        ):
            group = parser.add_mutually_exclusive_group()
            dest = {"enable": "enabled", "jit": "jit_provisioning"}.get(
                name, name.replace("-", "_")
            )
            negative = "disable" if name == "enable" else f"no-{name}"
            group.add_argument(
                f"--{name}",
                dest=dest,
                action="store_true",
                default=None,
                help=f"Turn {what} on.",
            )
            group.add_argument(
                f"--{negative}",
                dest=dest,
                action="store_false",
                help=f"Turn {what} off.",
            )

    def handle(self, *args, slug, **options):
        organization = self.organization(slug)
        changes = self.idp_settings(options)
        for name in (
            "enabled",
            "jit_provisioning",
            "require_sso",
            "allow_idp_initiated",
        ):
            if options[name] is not None:
                changes[name] = options[name]
        before = getattr(organization, "sso_configuration", None)
        before_updated = before.updated_at if before else None
        configuration = actions.update_sso_configuration(
            organization, actor=self.actor(), **changes
        )
        if configuration.updated_at == before_updated:
            self.stdout.write(f"SSO for {organization.slug}: nothing changed.")
        else:
            self.stdout.write(f"SSO for {organization.slug} is saved.")
        self.describe(configuration)

    def idp_settings(self, options) -> dict:
        fields = [options["idp_entity_id"], options["sso_url"], options["certificate"]]
        if options["metadata_file"]:
            if any(fields):
                raise CommandError(
                    "Give --metadata-file, or --idp-entity-id, --sso-url and "
                    "--certificate, not both."
                )
            xml = self.read(options["metadata_file"])
            try:
                parse_metadata(xml)
            except MetadataError as error:
                raise CommandError(f"{options['metadata_file']}: {error}") from None
            return {"idp_metadata_xml": xml.decode("utf-8", errors="replace")}
        if not all(fields):
            raise CommandError(
                "Give --metadata-file, or all of --idp-entity-id, --sso-url and "
                "--certificate."
            )
        try:
            certificates = read_certificate_file(self.read(options["certificate"]))
        except MetadataError as error:
            raise CommandError(f"{options['certificate']}: {error}") from None
        return {
            "idp_entity_id": options["idp_entity_id"],
            "idp_sso_url": options["sso_url"],
            "idp_x509_certificates": as_pem(certificates),
        }

    @staticmethod
    def read(path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}.") from None

    def describe(self, configuration) -> None:
        sp = saml_service_provider_urls(configuration.organization)
        on = {True: "on", False: "off"}
        lines = [
            ("IdP entity ID", configuration.idp_entity_id),
            ("IdP sign-in URL", configuration.idp_sso_url),
            *(
                (
                    "Certificate",
                    f"{c.subject}, until {c.not_after:%Y-%m-%d}, SHA-256 {c.fingerprint}",
                )
                for c in describe_certificates(configuration.idp_x509_certificates)
            ),
            ("Sign-in with SSO", on[configuration.enabled]),
            ("Just-in-time provisioning", on[configuration.jit_provisioning]),
            ("Require SSO", on[configuration.require_sso]),
            ("IdP-initiated sign-in", on[configuration.allow_idp_initiated]),
            ("SP entity ID", sp.entity_id),
            ("SP ACS URL", sp.acs_url),
        ]
        for label, value in lines:
            self.stdout.write(f"  {label + ':':28}{value}")
