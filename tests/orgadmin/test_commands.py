import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from orgadmin.models import (
    AuditEvent,
    ClaimedDomain,
    Member,
    Organization,
    ScimToken,
    Team,
)

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_organization_with_owner(db):
    output = run(
        "create_organization",
        "initech",
        "--name",
        "Initech",
        "--owner-email",
        "Boss@Initech.example",
    )
    assert "Created organization initech (Initech)." in output
    organization = Organization.objects.get(slug="initech")
    assert organization.restrict_to_claimed_domains is True
    assert organization.members.get().role == "owner"
    assert (
        AuditEvent.objects.get().actor_label
        == "Operator (manage.py create_organization)"
    )


def test_create_organization_allow_any_domain(db):
    run("create_organization", "open", "--name", "Open", "--allow-any-domain")
    assert Organization.objects.get(slug="open").restrict_to_claimed_domains is False


def test_create_organization_refuses_a_taken_slug(organization):
    with pytest.raises(CommandError, match="already taken"):
        run("create_organization", "acme", "--name", "Again")


def test_claim_domain_prints_the_txt_record(organization):
    output = run("claim_domain", "acme", "Labs.Acme.example")
    claimed = ClaimedDomain.objects.get(domain="labs.acme.example")
    assert claimed.status == "pending"
    assert f"value: orgadmin-domain-verification={claimed.verification_token}" in output


def test_claim_domain_verified_is_the_operator_override(organization):
    output = run("claim_domain", "acme", "labs.acme.example", "--verified")
    assert "labs.acme.example is verified for acme." in output
    assert ClaimedDomain.objects.get(domain="labs.acme.example").status == "verified"


def test_claim_domain_for_an_unknown_organization_is_an_error(db):
    with pytest.raises(CommandError, match='No organization with the slug "nope"'):
        run("claim_domain", "nope", "x.example")


def test_issue_scim_token_prints_the_token_alone_on_the_last_line(organization):
    output = run("issue_scim_token", "acme", "--name", "Okta")
    secret = output.strip().splitlines()[-1]
    token = ScimToken.objects.get(name="Okta")
    assert secret.startswith("oa_scim_")
    assert token.digest == ScimToken.digest_of(secret)


def test_demo_is_idempotent_and_prints_a_working_login_and_token(db):
    first = run("demo")
    second = run("demo")
    organization = Organization.objects.get(slug="acme")
    assert organization.claimed_domains.get().status == "verified"
    assert Member.objects.filter(organization=organization).count() == 5
    assert Team.objects.filter(organization=organization).count() == 2
    assert ScimToken.objects.usable().filter(organization=organization).count() == 1
    secret = second.strip().splitlines()[-1].split()[-1]
    assert ScimToken.objects.usable().get().digest == ScimToken.digest_of(secret)
    assert "owner@acme.example" in first and "password: orgadmin-demo" in first
    owner = organization.members.get(role="owner").user
    assert owner.check_password("orgadmin-demo")


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "x" * 64 + "-a-long-and-random-production-secret",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "orgadmin.example.com",
        "ORGADMIN_BASE_URL": "https://orgadmin.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_serve_or_deploy_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_DEBUG"] = "0"
    for command in (
        [sys.executable, "manage.py", "check", "--deploy"],
        [sys.executable, "-c", "import orgadmin.wsgi"],
    ):
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.returncode != 0, command
        assert "DJANGO_SECRET_KEY is required unless DJANGO_DEBUG=1" in result.stderr


def test_makemigrations_check_needs_no_secret_key():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG")
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_match_the_models(db):
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


def test_settings_refuse_a_malformed_scim_throttle_rate():
    env = {**os.environ, "DJANGO_DEBUG": "1", "ORGADMIN_SCIM_THROTTLE_RATE": "lots"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ORGADMIN_SCIM_THROTTLE_RATE='lots'" in result.stderr
