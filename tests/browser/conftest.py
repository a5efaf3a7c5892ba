"""Browser tests: pytest-playwright driving Debian's Chromium against the live server."""

import contextlib
import os
import shutil
from pathlib import Path

import pytest
from django.test import override_settings
from playwright.sync_api import Error as PlaywrightError

from tests import helpers

# Playwright's sync API keeps an event loop running in the test thread, which makes
# Django refuse ORM calls from the test body without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = (
    os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
)


def pytest_collection_modifyitems(config, items):
    missing = not Path(CHROMIUM).exists()
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}"))


@pytest.fixture(scope="session", autouse=True)
def _plain_http_live_server():
    # The live server builds its middleware once per session, before the per-test
    # settings fixture runs; SecurityMiddleware would then redirect to HTTPS.
    with override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
    ):
        yield


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Playwright's own browser download does not work here: use Debian's Chromium.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


@pytest.fixture
def screens(request, output_path, page):
    """Screenshots of the main pages a test visits, written out only when it fails."""
    taken: list[tuple[str, bytes]] = []

    def take(name: str) -> None:
        taken.append((name, page.screenshot(full_page=True)))

    yield take
    if getattr(request.node, "browser_test_failed", False):
        folder = Path(output_path)
        folder.mkdir(parents=True, exist_ok=True)
        for index, (name, png) in enumerate(taken):
            (folder / f"{index:02d}-{name}.png").write_bytes(png)
        # The page may already be gone; the screenshots taken so far are kept anyway.
        with contextlib.suppress(PlaywrightError):
            page.screenshot(path=folder / "at-failure.png", full_page=True)


@pytest.fixture
def site(transactional_db, live_server, settings):
    """The live server, with the SCIM Tenant URL pointing at it, and a demo organization."""
    settings.ORGADMIN_BASE_URL = live_server.url
    organization = helpers.make_organization()
    return live_server.url, organization


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(helpers.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")
