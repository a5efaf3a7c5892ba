"""Browser tests: pytest-playwright driving Debian's Chromium against the live server."""

import contextlib
import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests import helpers

CHROMIUM = (
    os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Mark the tests that drive Chromium, skip them without it, and run them last.

    Playwright's event loop stays in the main thread until the session ends, and Django
    refuses ORM calls beside a running loop: the other tests must come before it starts.
    A test drives Chromium when it is under tests/browser/ or asks for a `page`; this
    runs after every other reordering (pytest-django sorts by database use first).
    """
    missing = not Path(CHROMIUM).exists()
    browser_tests = [
        item
        for item in items
        if "tests/browser/" in item.nodeid
        or "page" in getattr(item, "fixturenames", ())
    ]
    for item in browser_tests:
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}"))
    chosen = set(map(id, browser_tests))
    items[:] = [item for item in items if id(item) not in chosen] + browser_tests


@pytest.fixture(scope="package", autouse=True)
def _allow_orm_beside_playwright(django_db_setup):
    """Let the test body use the ORM while Playwright's event loop runs in its thread.

    Only for this package: the variable would otherwise leak into the rest of the run
    (and `check --deploy` rightly refuses it). Depending on django_db_setup makes the
    test database outlive Playwright, so it is torn down without the variable.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


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


def _is_csp_violation(text: str) -> bool:
    # Chromium reports each refusal on the console: "Refused to apply inline style
    # because it violates the following Content Security Policy directive: ...".
    return "Content Security Policy" in text or text.startswith("Refused to")


@pytest.fixture
def csp_violations(page):
    """The Content-Security-Policy refusals Chromium reports while the test runs."""
    found: list[str] = []

    def collect(message) -> None:
        if _is_csp_violation(message.text):
            found.append(f"{page.url}: {message.text}")

    page.on("console", collect)
    return found


@pytest.fixture(autouse=True)
def _fail_on_csp_violation(request):
    """Fail every browser test during which a page broke the Content-Security-Policy."""
    if "page" not in request.fixturenames:
        yield
        return
    found = request.getfixturevalue("csp_violations")
    yield
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


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
