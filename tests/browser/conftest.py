"""Fixtures for the browser lane: the real `interba` server on a fresh SQLite
database, and a headless Debian Chromium driven through chromedriver."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from support import ROOT

# Selenium Manager must not try to download a driver or browser: there is no network.
os.environ.setdefault("SE_OFFLINE", "true")

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
SERVER_BIN = Path(os.environ.get("INTERBA_BIN", ROOT / ".build" / "debug" / "interba"))
READY_TIMEOUT = 120.0

_server_log = {"path": None, "text": None}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 200) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"(no server log: {error})"
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="session")
def server(request):
    """Start `interba serve` on a free loopback port with its own data folder
    (fresh SQLite, migrated and filled with the demo data on first start);
    yield its base URL; stop it at the end."""
    if not SERVER_BIN.is_file():
        pytest.fail(f"{SERVER_BIN} is missing: run `swift build` first (scripts/test browser does)", pytrace=False)
    data_dir = Path(tempfile.mkdtemp(prefix="interba-browser-"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    _server_log["path"] = log_path
    env = dict(os.environ, INTERBA_DATA_DIR=str(data_dir), INTERBA_BASE_URL=base_url)
    env.pop("DATABASE_URL", None)  # always the fresh SQLite file, never a configured database
    with log_path.open("wb") as log:
        # cwd = the repository, where Vapor finds Resources/ and Public/.
        proc = subprocess.Popen(
            [str(SERVER_BIN), "serve", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    started = time.monotonic()
    problem = None
    while problem is None:
        if proc.poll() is not None:
            problem = f"the server exited with status {proc.returncode} before it was ready"
            break
        try:
            if requests.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() - started > READY_TIMEOUT:
            problem = f"{base_url}/readyz did not answer 200 within {READY_TIMEOUT:.0f} s"
        time.sleep(0.25)
    if problem is not None:
        _stop(proc)
        _server_log["text"] = _tail(log_path)
        pytest.fail(f"{problem} (its log is printed at the end: {log_path})", pytrace=False)
    print(f"\ninterba ready at {base_url} after {time.monotonic() - started:.1f} s (data: {data_dir})")

    yield base_url

    _stop(proc)
    failed = request.session.testsfailed > 0
    _server_log["text"] = _tail(log_path) if failed else None
    if failed or os.environ.get("INTERBA_KEEP_BROWSER_DATA"):
        print(f"\nkept the server's data folder: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def new_browser() -> webdriver.Chrome:
    """A fresh headless Chromium: no cookies or session from anywhere else."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--lang=en-US"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def _print_page_if_failed(request, driver, label: str = "browser") -> None:
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        try:
            body = driver.execute_script("return document.body ? document.body.innerText : ''") or ""
            print(f"\n---- {label} at {driver.current_url} ----\n{body[:3000]}")
        except Exception as error:  # the page may be gone; the test's own error says more
            print(f"\n({label}: could not read the page: {error})")


@pytest.fixture
def browser(request):
    """A fresh headless Chromium per test: no cookies or session carried over."""
    driver = new_browser()
    yield driver
    _print_page_if_failed(request, driver)
    driver.quit()


@pytest.fixture
def more_browsers(request):
    """For tests where several people act at once: call it (optionally with a
    label) for one more fresh headless Chromium; all are closed at the end, and
    a failing test prints where each one was."""
    drivers: list[tuple[str, webdriver.Chrome]] = []

    def make(label: str | None = None) -> webdriver.Chrome:
        driver = new_browser()
        drivers.append((label or f"browser {len(drivers) + 2}", driver))
        return driver

    yield make
    for label, driver in drivers:
        _print_page_if_failed(request, driver, label)
        try:
            driver.quit()
        except Exception:  # already closed by the test
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_terminal_summary(terminalreporter):
    text = _server_log["text"]
    if text:
        terminalreporter.section(f"server log (last lines of {_server_log['path']})")
        terminalreporter.write_line(text)
