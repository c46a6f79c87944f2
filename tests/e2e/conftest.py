"""Browser tests: a real uvicorn server on a free port, a temporary SQLite database and var
folder, a small trained model, and headless Chromium driven by Playwright.

Fixtures
--------
e2e_server (session)
    The running server: ``base_url``, ``var_dir``, ``database_url``, the accounts and the
    vetting item prepared for the tests.
browser (session)
    Debian's Chromium (never a downloaded one), headless.
context / page (function)
    A fresh browser context (1280×900) whose every request is recorded; at teardown the test
    fails if any request left 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"
EXPLORER = "explorer@example.org"
ADMIN = "admin@example.org"
SECRET_KEY = "e2e-secret-key-not-for-production-0123456789"
#: Upload limit of the test server (MB): the 2.0 MB TESS file fits, a 3.5 MB file does not.
MAX_UPLOAD_MB = 3
#: A small, quick model (seconds to train on two cores).
TINY_MODEL = ["n_estimators=20", "num_leaves=7", "n_ensemble=2", "calibration_folds=2"]
#: The vetting item: a real Kepler false positive with a bundled light curve (one quarter).
VETTING_OBJECT = ("kepler", "K00754.01")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base_url: str
    var_dir: Path
    database_url: str
    data_dir: Path
    env: dict[str, str]
    vetting_item_id: int
    vetting_candidate_id: int
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)


def _cli(args: list[str], env: dict[str, str], *, stdin: str | None = None) -> str:
    cmd = [sys.executable, "-c", "from exoguard.cli import main; main()", *args]
    done = subprocess.run(
        cmd, env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"exoguard {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _server_env(var_dir: Path, data_dir: Path) -> dict[str, str]:
    from exoguard.core import numba_cache_dir

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("EXOGUARD_") and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
    }
    env.update(
        {
            "EXOGUARD_VAR_DIR": str(var_dir),
            "EXOGUARD_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{(var_dir / 'exoguard.sqlite3').as_posix()}",
            "SECRET_KEY": SECRET_KEY,
            # development: cookies without the Secure flag, which plain http://127.0.0.1 needs
            "EXOGUARD_ENV": "development",
            "EXOGUARD_JOBS": "inprocess",
            "EXOGUARD_RATE_LIMIT_PER_MINUTE": "1000",
            "EXOGUARD_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
            "PYTHONUNBUFFERED": "1",
            # The cache this process's warm_up() fills (below), not an empty one in var_dir:
            # otherwise the server compiles the kernels again in the background and the first
            # light-curve chart or upload waits minutes for numba's compiler lock.
            "NUMBA_CACHE_DIR": str(numba_cache_dir()),
        }
    )
    return env


def _prepare_database(database_url: str) -> tuple[int, int]:
    """Accounts and one vetting item (a real KOI false positive, predicted uncertain)."""
    from exoguard.services.accounts import register_user
    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.repositories import (
        CandidateRepository,
        ModelVersionRepository,
        PredictionRepository,
        VettingRepository,
    )

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            register_user(session, email=EXPLORER, password=PASSWORD, name="Vera Explorer")
            register_user(session, email=ADMIN, password=PASSWORD, name="Ada Admin", role="admin")
            candidate = CandidateRepository(session).get_by_key(*VETTING_OBJECT)
            assert candidate is not None, f"{VETTING_OBJECT} missing after ingest"
            version = ModelVersionRepository(session).get_active()
            assert version is not None, "no active model after training"
            prediction = PredictionRepository(session).create(
                candidate_id=candidate.id,
                model_version=version.id,
                probability=0.48,
                uncertainty=0.31,
                label="false_positive",
            )
            item = VettingRepository(session).enqueue(
                candidate_id=candidate.id, priority=0.31, prediction_id=prediction.id
            )
            session.commit()
            return item.id, candidate.id
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from exoguard.config import get_settings

    data_dir = get_settings().data_dir
    if not (data_dir / "catalogs").is_dir():
        pytest.fail(f"the shared NASA data is missing under {data_dir} (EXOGUARD_DATA_DIR)")
    var_dir = tmp_path_factory.mktemp("e2e_var")
    env = _server_env(var_dir, data_dir)
    database_url = env["DATABASE_URL"]
    _cli(["db", "upgrade"], env)
    _cli(["ingest"], env)
    train_args = ["train", "--config", "small"]
    for item in TINY_MODEL:
        train_args += ["--param", item]
    _cli(train_args, env)
    item_id, candidate_id = _prepare_database(database_url)
    # Compile the search kernels into numba's on-disk cache before the server starts, as
    # `exoguard serve` does in the background: a cold compile takes minutes on a busy machine
    # and would otherwise count against the first upload's timeout.
    from exoguard.core.search.warmup import warm_up

    warm_up()

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = var_dir / "server.log"
    log = log_path.open("w")
    cmd = [
        sys.executable,
        "-c",
        "from exoguard.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.3)
        yield Server(
            base_url=base_url,
            var_dir=var_dir,
            database_url=database_url,
            data_dir=data_dir,
            env=env,
            vetting_item_id=item_id,
            vetting_candidate_id=candidate_id,
            log_path=log_path,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = (
            f"{CHROMIUM} is missing; `make test` installs Debian's chromium "
            "(tools/system-packages.sh)"
        )
        if _in_ci():
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Recorded:
    """Every request a browser context made, and the browser-side errors."""

    urls: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    #: Console reports of the Content-Security-Policy refusing something (inline script,
    #: eval, a foreign source): the pages must work under the policy the server sends.
    csp_violations: list[str] = field(default_factory=list)

    def remote(self) -> list[str]:
        return [
            u
            for u in self.urls
            if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname != "127.0.0.1"
        ]


def new_context(browser: Any, server: Server, recorded: Recorded, **options: Any) -> Any:
    """A browser context on the test server whose requests all go into `recorded`."""
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(base_url=server.base_url, accept_downloads=True, **options)
    context.set_default_timeout(30_000)
    context.on("request", lambda request: recorded.urls.append(request.url))

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            recorded.csp_violations.append(message.text)

    def on_page(page: Any) -> None:
        page.on("pageerror", lambda exc: recorded.page_errors.append(str(exc)))
        page.on("console", on_console)

    context.on("page", on_page)
    return context


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
def context(browser: Any, e2e_server: Server, recorded: Recorded) -> Iterator[Any]:
    ctx = new_context(browser, e2e_server, recorded)
    yield ctx
    ctx.close()
    assert recorded.remote() == [], f"requests left 127.0.0.1: {recorded.remote()}"
    assert recorded.page_errors == [], f"JavaScript errors: {recorded.page_errors}"
    assert recorded.csp_violations == [], f"CSP violations: {recorded.csp_violations}"


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form and land on the home page."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.get_by_role("button", name="Log out").wait_for()


def wait_for_charts(page: Any, names: list[str], *, timeout_ms: int = 60_000) -> None:
    """Wait until Plotly has drawn each named chart; fail at once when the page says why a
    chart cannot be drawn (the element then holds the reason instead of a plot)."""
    for name in names:
        selector = f'[data-chart="{name}"]'
        page.wait_for_function(
            """(sel) => { const el = document.querySelector(sel);
                return el && ((el.dataset.plotted === "true" && el.querySelector(".main-svg"))
                              || el.classList.contains("chart-empty")); }""",
            arg=selector,
            timeout=timeout_ms,
        )
        element = page.locator(selector).first
        if element.get_attribute("data-plotted") != "true":
            raise AssertionError(
                f"chart {name!r} of {page.url} not drawn: {element.text_content()!r}"
            )


@pytest.fixture(scope="session")
def ui() -> Any:
    """The helpers above for the test modules (conftest is not importable in importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        screenshot=screenshot,
        login=login,
        wait_for_charts=wait_for_charts,
        new_context=new_context,
        Recorded=Recorded,
        EXPLORER=EXPLORER,
        ADMIN=ADMIN,
        PASSWORD=PASSWORD,
        MAX_UPLOAD_MB=MAX_UPLOAD_MB,
    )
