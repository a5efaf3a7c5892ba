"""Retake the README's screenshots from the demo data: `.venv/bin/python docs/screenshots.py`.

Builds the demo organization (manage.py demo) into a throwaway SQLite database, adds a
little SCIM history so that a member's timeline has something to say, serves it with
runserver on a free port, and saves PNGs of the main pages into docs/ with headless
Chromium (Playwright; CHROMIUM points at the browser, /usr/bin/chromium by default).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# (file name, path under the organization, what the page is)
PAGES = [
    ("start.png", "", "General, with the setup steps"),
    ("members.png", "members/", "Members"),
    ("member-timeline.png", None, "A member's access timeline"),
    ("domains.png", "access-security/domains/", "Domains"),
    ("sso.png", "access-security/sso/", "SSO"),
    ("scim.png", "access-security/scim/", "SCIM"),
    ("audit-log.png", "access-security/audit-log/", "Audit log"),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = _free_port()
        env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{folder}/screenshots.sqlite3",
            "ORGADMIN_BASE_URL": f"http://127.0.0.1:{port}",
        }
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgadmin.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        with open(os.devnull, "w") as quiet:
            call_command("demo", stdout=quiet)
        timeline_member = _scim_history()
        server = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/accounts/login/")
            _take(base, timeline_member)
        finally:
            server.terminate()
            server.wait(timeout=10)


def _scim_history() -> int:
    """Dorothy Vaughan arrives from Entra ID, joins a group, and is deactivated."""
    from orgadmin import actions
    from orgadmin.audit import Actor
    from orgadmin.models import Member, Organization

    organization = Organization.objects.get(slug="acme")
    existing = Member.objects.filter(
        organization=organization, email="dorothy@acme.example"
    )
    if existing.exists():
        return existing.get().pk
    token, _ = actions.issue_scim_token(
        organization, name="Entra ID production", actor=Actor.system("screenshots")
    )
    entra = Actor.for_scim_token(token, ip_address="203.0.113.7")
    dorothy = actions.provision_member(
        organization,
        user_name="dorothy@acme.example",
        display_name="Dorothy Vaughan",
        title="Mathematician",
        emails=[{"value": "dorothy@acme.example", "type": "work", "primary": True}],
        actor=entra,
    )
    actions.create_team(
        organization,
        display_name="Compute",
        member_ids=[dorothy.pk],
        scim_managed=True,
        external_id="compute-group",
        actor=entra,
    )
    actions.update_member(dorothy, title="Head of Compute", actor=entra)
    actions.deactivate_member(dorothy, actor=entra)
    return dorothy.pk


def _take(base: str, member_pk: int) -> None:
    from playwright.sync_api import sync_playwright

    from orgadmin.management.commands.demo import DEMO_PASSWORD

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium")
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("Email").fill("owner@acme.example")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        for name, path, _ in PAGES:
            path = f"members/{member_pk}/" if path is None else path
            page.goto(f"{base}/organizations/acme/{path}")
            page.screenshot(path=DOCS / name, full_page=True)
            print(f"docs/{name}")
        browser.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    main()
