"""Page timings in Chromium, and the first upload to a verdict on a freshly started server.

Starts its own `exoguard serve` on a free 127.0.0.1 port with a temporary var folder and
SQLite database (catalogs ingested, a small GBM trained, one vetting item, an admin
account), drives Debian's Chromium (headless, no download) with Playwright, prints the
medians and stops the server.

Measured, each in a fresh browser context (empty cache), ``--repeat`` times:

* landing ``/``, explore ``/`` first visit (no chart), a candidate with a light curve (the
  one the upload found), research (model charts), a vetting item: time to the ``load``
  event and to every chart drawn (``[data-chart]`` plotted by Plotly, or its reason shown);
* a 300-row TOI catalog uploaded on the explore page: time from the click to the result;
* once, first: a one-quarter Kepler light curve (Kepler-227, Q1, 30-min cadence) uploaded on
  the explore page right after the server answered ``/healthz``, to its verdict (target
  < 10 s). ``--cold-numba`` points numba's cache at an empty folder, so the search kernels
  compile from scratch (the server's background warm-up races the upload).

Run: ``python bench/pages.py [--repeat 5] [--cold-numba]``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EMAIL = "bench-admin@example.org"
PASSWORD = "correct-horse-battery"
KEPLER_QUARTER = "kepler/kplr010797460-2009166043257_llc.fits"
TOI_TABLE = "toi_2026-06-22.csv.gz"
N_CATALOG_ROWS = 300
#: Charts-drawn check: Plotly drew it, or the page put the reason there instead.
DRAWN = """() => Array.from(document.querySelectorAll('[data-chart]'))
  .filter(el => el.offsetParent !== null)
  .every(el => (el.dataset.plotted === 'true' && el.querySelector('.main-svg'))
               || el.classList.contains('chart-empty'))"""


def _cli(args: list[str], env: dict[str, str]) -> str:
    cmd = [sys.executable, "-c", "from exoguard.cli import main; main()", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"exoguard {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _prepare(database_url: str) -> int:
    """An admin account and one vetting item (a real KOI false positive, predicted uncertain)."""
    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.repositories import (
        CandidateRepository,
        ModelVersionRepository,
        PredictionRepository,
        VettingRepository,
    )
    from exoguard.web.services.accounts import register_user

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            register_user(session, email=EMAIL, password=PASSWORD, name="bench", role="admin")
            candidate = CandidateRepository(session).get_by_key("kepler", "K00754.01")
            version = ModelVersionRepository(session).get_active()
            assert candidate is not None and version is not None
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
            return int(item.id)
    finally:
        engine.dispose()


def _catalog_csv(data_dir: Path, out: Path) -> Path:
    """The first 300 rows of the bundled TOI table, with its '#' header."""
    with gzip.open(data_dir / "catalogs" / TOI_TABLE, "rt") as fh:
        lines = fh.read().splitlines()
    start = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    out.write_text("\n".join(lines[: start + 1 + N_CATALOG_ROWS]) + "\n")
    return out


def _context(browser: Any, base: str) -> Any:
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(120_000)
    r = context.request.post("/api/auth/login", data={"email": EMAIL, "password": PASSWORD})
    assert r.ok, r.text()
    return context


def _page_times(browser: Any, base: str, path: str) -> tuple[float, float | None]:
    """(seconds to the load event, seconds to every chart drawn or None without charts)."""
    context = _context(browser, base)
    try:
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(path, wait_until="load")
        loaded = time.perf_counter() - t0
        if page.locator("[data-chart]").count() == 0:
            return loaded, None
        page.wait_for_function(DRAWN, timeout=120_000, polling=20)
        return loaded, time.perf_counter() - t0
    finally:
        context.close()


def _upload(page: Any, path: Path, *, done: str) -> float:
    page.goto("/explore")
    page.get_by_label("Light-curve file").set_input_files(str(path))
    t0 = time.perf_counter()
    page.get_by_role("button", name="Upload and classify").click()
    page.locator(done).first.wait_for(timeout=300_000)
    return time.perf_counter() - t0


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s" if values else "     —  "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="measurements per page (median)")
    parser.add_argument(
        "--cold-numba", action="store_true", help="empty numba cache: kernels compile afresh"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1; got {args.repeat}")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    from exoguard.config import get_settings

    data_dir = get_settings().data_dir
    with tempfile.TemporaryDirectory(prefix="exoguard-pages-") as tmp:
        work = Path(tmp)
        database_url = f"sqlite:///{(work / 'exoguard.sqlite3').as_posix()}"
        models_path = work / "models"
        env = _server.server_env(
            workdir=work, database_url=database_url, models_path=models_path, data_dir=data_dir
        )
        if args.cold_numba:
            env["NUMBA_CACHE_DIR"] = str(work / "numba-cache")
        _server.log("bench/pages: migrate, ingest the catalogs, train a small model …")
        _cli(["db", "upgrade"], env)
        _cli(["ingest"], env)
        _cli(
            ["train", "--config", "small", "--param", "n_estimators=30", "--param",
             "n_ensemble=2", "--param", "calibration_folds=2"],
            env,
        )  # fmt: skip
        item_id = _prepare(database_url)
        catalog = _catalog_csv(data_dir, work / "toi_300.csv")
        port = _server.free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _server.start_server(env, port=port, workers=1, log_path=work / "server.log")
        try:
            t_start = time.perf_counter()
            _server.wait_ready(base, proc, timeout_s=300)
            ready_s = time.perf_counter() - t_start
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    context = _context(browser, base)
                    page = context.new_page()
                    first_s = _upload(
                        page,
                        data_dir / "lightcurves" / KEPLER_QUARTER,
                        done="#verdicts .verdict .words, #no-signal, #single-event",
                    )
                    link = page.locator("#details-link").get_attribute("href") or ""
                    context.close()
                    pages = {
                        "landing /": "/",
                        "explore (first visit)": "/explore",
                        f"candidate with light curve {link}": link,
                        "research": "/research",
                        f"vetting item /vetting/{item_id}": f"/vetting/{item_id}",
                    }
                    rows: list[tuple[str, list[float], list[float]]] = []
                    for label, path in pages.items():
                        loads, charts = [], []
                        for _ in range(args.repeat):
                            loaded, drawn = _page_times(browser, base, path)
                            loads.append(loaded)
                            if drawn is not None:
                                charts.append(drawn)
                        rows.append((label, loads, charts))
                    catalog_s = []
                    for _ in range(args.repeat):
                        context = _context(browser, base)
                        try:
                            catalog_s.append(
                                _upload(context.new_page(), catalog, done="#verdicts .verdict")
                            )
                        finally:
                            context.close()
                finally:
                    browser.close()
        finally:
            _server.stop_server(proc)
    cache = "empty numba cache" if args.cold_numba else "numba's on-disk cache as found"
    print(f"server answered /healthz {ready_s:.1f} s after start ({cache})")
    print(
        f"first upload to verdict, one Kepler quarter ({KEPLER_QUARTER.split('/')[-1]}): "
        f"{first_s:.2f} s (target < 10 s)"
    )
    print(f"\nmedians of {args.repeat} (fresh browser context each):")
    print(f"{'page':<44} {'load':>9} {'charts drawn':>13}")
    for label, loads, charts in rows:
        print(f"{label:<44} {_median(loads):>9} {_median(charts):>13}")
    print(f"{f'{N_CATALOG_ROWS}-row TOI catalog: upload to result':<44} {_median(catalog_s):>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
