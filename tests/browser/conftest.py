"""Browser tests: the portal in Debian's Chromium (Playwright), on the whole platform as `make run` starts it.

One platform and one browser per test session; a fresh browser context per person. The browser must be
there: a missing one fails (never skips) with the command that installs it (`make browser` does, as root).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.client import PASSWORD, Person
from tests.support.browser import LAUNCH_ARGS, People, chromium_path, log_in
from tests.support.platform import Platform, run_platform

BROWSER_ENV = {
    "IDENTITY_ADMIN_EMAIL": "ikvd-admin@browser.test",
    # cheap password hashes: the tests make and log in a few dozen people
    "IDENTITY_PASSWORD_TIME_COST": "1",
    "IDENTITY_PASSWORD_MEMORY_KIB": "1024",
    "IDENTITY_PASSWORD_PARALLELISM": "1",
    # access tokens last 40 s, so pages keep renewing them quietly while the tests click (production: 900)
    "IDENTITY_ACCESS_TOKEN_TTL": "40",
    # one gunicorn worker per API, threads for the page's concurrent calls: the machine has two cores
    "WEB_CONCURRENCY": "1",
    "WEB_THREADS": "6",
    "OUTBOX_RELAY_INTERVAL": "0.3",
    "TASK_RETRY_BACKOFF": "0.3",
    "SMTP_TIMEOUT": "3",
    "LOG_LEVEL": "INFO",
    "PUMPURS_TEST_RUN": "1",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"the browser tests need Chromium at {path} (PUMPURS_CHROMIUM); run `make browser`, or as root: "
            "apt-get update && apt-get install -y chromium",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=path, args=LAUNCH_ARGS, headless=True)
        try:
            yield found
        finally:
            found.close()


@pytest.fixture(scope="session")
def portal() -> Iterator[Platform]:
    """The platform with the portal, once for every browser test."""
    with run_platform("browser", BROWSER_ENV) as running:
        yield running


@pytest.fixture(scope="session")
def people(portal: Platform) -> People:
    return People(portal.api)


@pytest.fixture()
def new_context(browser: Any, portal: Platform) -> Iterator[Callable[..., Any]]:
    """A fresh browser context (its own cookies: one person) per call, closed after the test."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(base_url=portal.urls["portal"], locale="lv-LV", **options)
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture()
def person_page(new_context: Callable[..., Any]) -> Callable[..., Any]:
    """A page in a fresh context, logged in as `person` through the login page."""

    def make(person: Person, password: str = PASSWORD) -> Any:
        page = new_context().new_page()
        log_in(page, person.email, password)
        return page

    return make
