"""A reader signs up in a real browser: Chromium (driven by chromedriver through selenium)
fills in the form on the built index page served by a real `feedletter serve` process,
then confirms with the link from the mail a real SMTP server received.

`make test` installs Debian's chromium and chromium-driver; this test skips, saying
why, only when either is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from feeds.build import build_feeds

from .conftest import NOW
from .smtp_server import Faults, SmtpServer, free_port
from .test_browser import CHROMIUM
from .test_signup import configure, status_of
from .test_web import SECRET

CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's 'chromium' and 'chromium-driver' (make test installs them)",
)


@pytest.fixture
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def served_site(fixture_project: Path) -> Iterator[tuple[str, Path, SmtpServer]]:
    """`feedletter serve` (a real process, the local preview) on the built fixture site."""
    with SmtpServer(Faults()) as smtp:
        config = configure(fixture_project, smtp.port)
        build_feeds(config, NOW)
        port = free_port()
        env = {**os.environ, "FEEDLETTER_SECRET": SECRET.decode()}
        process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "serve", "--port", str(port)],
            cwd=fixture_project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(base + "/news/", timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.1)
            yield base, fixture_project, smtp
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_a_reader_signs_up_and_confirms_in_a_real_browser(
    browser: object, served_site: tuple[str, Path, SmtpServer]
) -> None:
    from selenium.webdriver.common.by import By

    base, project, smtp = served_site
    driver: object = browser
    driver.get(f"{base}/news/topics/portals/")  # type: ignore[attr-defined]
    form = driver.find_element(By.CSS_SELECTOR, "section.signup form")  # type: ignore[attr-defined]
    # the preview points the form at this server; the topic page preselects its topic
    assert form.get_attribute("action") == f"{base}/news/subscribe"
    box = form.find_element(By.CSS_SELECTOR, 'input[name="topics"]')
    assert box.get_attribute("value") == "portals" and box.is_selected()
    form.find_element(By.NAME, "email").send_keys("reader@example.com")
    form.find_element(By.NAME, "name").send_keys("Rita Reader")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_heading(driver, "Check your inbox")
    (mail,) = smtp.wait_for(1)  # mailed after the reply
    text = mail.get_body(("plain",))
    assert text is not None
    link = re.search(
        r"https://fixture\.example\.org(/news/confirm\?token=[\w.\-]+)", text.get_content()
    )
    assert link
    driver.get(base + link.group(1))  # type: ignore[attr-defined]
    assert status_of_project(project) == "pending"  # opening the link changed nothing
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
    wait_for_heading(driver, "You are subscribed")
    assert status_of_project(project) == "active"


def wait_for_heading(driver: object, text: str) -> None:
    """Wait (at most 15 s) for the page the click led to: its <h1> holds ``text``.

    The heading is read in one script, and a check that meets the page mid-navigation
    is made again: reading an element found on the page being left fails in
    chromedriver ("Node with given id does not belong to the document"), which is not
    the stale-element error WebDriverWait ignores by default.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def heading(driver: object) -> bool:
        found = driver.execute_script(  # type: ignore[attr-defined]
            "var h = document.querySelector('h1'); return h ? h.textContent : ''"
        )
        return text in str(found or "")

    WebDriverWait(driver, 15, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
        heading
    )


def status_of_project(project: Path) -> str | None:
    from newsletter.config import load_config

    return status_of(load_config(project / "config.yaml"), "reader@example.com")
