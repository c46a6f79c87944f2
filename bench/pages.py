"""Page timings in Chromium, and the first upload to a verdict on a freshly started server.

Starts its own `exoguard serve` on a free 127.0.0.1 port with a temporary var folder and
SQLite database (catalogs ingested, a small GBM trained, one vetting item, an admin
account), drives Debian's Chromium (headless, no download) with Playwright, prints the
medians and stops the server.

Measured, each in a fresh browser context (empty cache), ``--repeat`` times:

* landing ``/``, explore ``/`` first visit (no chart), a candidate with a light curve (the
  one the upload found), research (model charts), a vetting item: time to the ``load``
  event (on chart pages it includes running the chart library, a deferred script since
  issue 15) and to every chart drawn, all of them, on screen or below it (each visible
  ``[data-chart]`` plotted by Plotly, or its reason shown),
  and the renderer main thread's CPU time to then (Chromium's ``ThreadTime`` metric: wall
  times mean little on a shared machine);
* a 300-row TOI catalog uploaded on the explore page: time from the click to the result;
* once, first: a one-quarter Kepler light curve (Kepler-227, Q2, 30-min cadence) uploaded on
  the explore page right after the server answered ``/healthz``, to its verdict (target
  < 10 s). The server is started as ``make run`` starts it: ``exoguard warmup`` first (the
  search kernels compiled into numba's on-disk cache, ``<var dir>/numba-cache``; the bench's
  var dir is a new temporary folder, so its cache starts empty), then ``exoguard serve``.
  ``--cold-numba`` skips the warm-up: the kernels compile while the first upload waits (the
  server's background warm-up holds numba's compiler lock), which is what a server started
  without ``make run`` on a fresh install does.

Run: ``python bench/pages.py [--repeat 5] [--cold-numba]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EMAIL = "bench-admin@example.org"
PASSWORD = "correct-horse-battery"
KEPLER_QUARTER = "kepler/kplr010797460-2009259160929_llc.fits"
TOI_TABLE = "toi_2026-06-22.csv.gz"
N_CATALOG_ROWS = 300
#: Charts-drawn check: Plotly drew it, or the page put the reason there instead.
VISIBLE_CHARTS = """() => Array.from(document.querySelectorAll('[data-chart]'))
  .filter(el => el.offsetParent !== null).length"""
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


@dataclass
class Row:
    """The measurements of one page."""

    label: str
    loads: list[float] = field(default_factory=list)
    charts: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)


def _candidate_id(database_url: str, mission: str, object_id: str) -> int:
    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.repositories import CandidateRepository

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            candidate = CandidateRepository(session).get_by_key(mission, object_id)
            assert candidate is not None, f"{object_id} missing after ingest"
            return int(candidate.id)
    finally:
        engine.dispose()


def _uploaded_candidate(database_url: str) -> int | None:
    """The most planet-like candidate found in an uploaded light curve, if any."""
    from sqlalchemy import select

    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.models import Candidate

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            ids = session.scalars(
                select(Candidate.id).where(Candidate.dataset_id.is_not(None)).order_by(Candidate.id)
            ).all()
            return int(ids[0]) if ids else None
    finally:
        engine.dispose()


def _catalog_csv(data_dir: Path, out: Path) -> Path:
    """The first 300 rows of the bundled TOI table, with its '#' header."""
    with gzip.open(data_dir / "catalogs" / TOI_TABLE, "rt") as fh:
        lines = fh.read().splitlines()
    start = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    out.write_text("\n".join(lines[: start + 1 + N_CATALOG_ROWS]) + "\n")
    return out


def _login_state(browser: Any, base: str) -> Any:
    """The cookies of one log-in, reused by every context (log-ins are rate limited)."""
    context = browser.new_context(base_url=base)
    try:
        r = context.request.post("/api/auth/login", data={"email": EMAIL, "password": PASSWORD})
        assert r.ok, r.text()
        return context.storage_state()
    finally:
        context.close()


def _context(browser: Any, base: str, state: Any) -> Any:
    """A fresh context (empty cache) carrying the log-in cookies."""
    context = browser.new_context(
        base_url=base, viewport={"width": 1400, "height": 900}, storage_state=state
    )
    context.set_default_timeout(120_000)
    return context


RESOURCES = """() => performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/charts/') || e.name.includes('/static/vendor/plotly'))
  .map(e => [e.name.includes('/charts/') ? 'chart data' : 'plotly', e.responseEnd - e.startTime])"""


def _main_thread_cpu_s(cdp: Any) -> float:
    """CPU seconds the page's renderer main thread has run (Chromium's ``ThreadTime``): the
    script, style, layout and paint work of the page, which a loaded machine does not inflate
    the way it inflates wall-clock times."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "ThreadTime"))


def _page_times(
    browser: Any, base: str, state: Any, path: str, *, shot: Path | None = None
) -> tuple[float, float | None, dict[str, float]]:
    """(seconds to the load event, seconds to every visible chart drawn or None without one,
    seconds each chart-data request and the Plotly download took and the main thread's CPU
    seconds up to the charts drawn, as ``"cpu"``). `shot`: a full-page screenshot, taken after
    the measurements."""
    context = _context(browser, base, state)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        t0 = time.perf_counter()
        page.goto(path, wait_until="load")
        loaded = time.perf_counter() - t0
        if page.evaluate(VISIBLE_CHARTS) == 0:
            return loaded, None, {"cpu": _main_thread_cpu_s(cdp)}
        page.wait_for_function(DRAWN, timeout=120_000, polling=20)
        drawn = time.perf_counter() - t0
        parts: dict[str, float] = {"cpu": _main_thread_cpu_s(cdp)}
        for name, ms in page.evaluate(RESOURCES):
            parts[name] = max(parts.get(name, 0.0), ms / 1000.0)
        if shot is not None:
            page.screenshot(path=str(shot), full_page=True)
        return loaded, drawn, parts
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
        # The kernels' cache of this server: inside its var dir, as `exoguard serve` uses it.
        env["NUMBA_CACHE_DIR"] = str(work / "numba-cache")
        _server.log("bench/pages: migrate, ingest the catalogs, train a small model …")
        _cli(["db", "upgrade"], env)
        _cli(["ingest"], env)
        _cli(
            ["train", "--config", "small", "--param", "n_estimators=30", "--param",
             "n_ensemble=2", "--param", "calibration_folds=2"],
            env,
        )  # fmt: skip
        warmup_s: float | None = None
        if not args.cold_numba:
            _server.log("bench/pages: exoguard warmup (as `make run` does before serve) …")
            said = _cli(["warmup", "--json"], env).strip().splitlines()[-1]
            warmup_s = float(json.loads(said)["seconds"])
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
                    state = _login_state(browser, base)
                    context = _context(browser, base, state)
                    page = context.new_page()
                    first_s = _upload(
                        page,
                        data_dir / "lightcurves" / KEPLER_QUARTER,
                        done="#verdicts .verdict .words, #no-signal, #single-event",
                    )
                    _server.log(f"bench/pages: first upload to verdict {first_s:.2f} s")
                    upload_shot = ARTIFACTS / "bench-pages-first-upload.png"
                    upload_shot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(upload_shot), full_page=True)
                    verdict = page.locator("#verdicts").inner_text()[:200]
                    _server.log(f"bench/pages: first upload shows: {verdict!r}")
                    context.close()
                    uploaded = _uploaded_candidate(database_url)
                    link = f"/candidates/{uploaded}" if uploaded is not None else ""
                    toi = _candidate_id(database_url, "tess", "TOI-114.01")
                    pages = {
                        "landing /": "/",
                        "explore (first visit)": "/explore",
                        **({f"candidate, uploaded Kepler quarter {link}": link} if link else {}),
                        f"candidate, TOI-114.01 (TESS) /candidates/{toi}": f"/candidates/{toi}",
                        "research": "/research",
                        f"vetting item /vetting/{item_id}": f"/vetting/{item_id}",
                    }
                    rows: list[Row] = []
                    for label, path in pages.items():
                        row = Row(label)
                        slug = re.sub(r"[^a-z0-9]+", "-", label.split(" /")[0].lower()).strip("-")
                        for i in range(args.repeat):
                            shot = ARTIFACTS / f"bench-pages-{slug}.png" if i == 0 else None
                            loaded, drawn, parts = _page_times(
                                browser, base, state, path, shot=shot
                            )
                            row.loads.append(loaded)
                            if drawn is not None:
                                row.charts.append(drawn)
                            for name, seconds in parts.items():
                                row.parts.setdefault(name, []).append(seconds)
                        rows.append(row)
                    catalog_s = []
                    for _ in range(args.repeat):
                        context = _context(browser, base, state)
                        try:
                            catalog_s.append(
                                _upload(context.new_page(), catalog, done="#result-table-body tr")
                            )
                        finally:
                            context.close()
                finally:
                    browser.close()
        finally:
            _server.stop_server(proc)
    if warmup_s is None:
        cache = "no warm-up: the kernels compile on the first upload (--cold-numba)"
    else:
        cache = f"after `exoguard warmup`, {warmup_s:.1f} s, filled numba's on-disk cache"
    print(f"server answered /healthz {ready_s:.1f} s after start ({cache})")
    print(
        f"first upload to verdict, one Kepler quarter ({KEPLER_QUARTER.split('/')[-1]}): "
        f"{first_s:.2f} s (target < 10 s)"
    )
    print(f"\nmedians of {args.repeat} (fresh browser context each; first visit in brackets):")
    print(
        f"{'page':<58} {'load':>8} {'charts drawn':>13} {'(first)':>9} "
        f"{'chart data':>11} {'plotly':>9} {'main-thread CPU':>16}"
    )
    for row in rows:
        first = f"({row.charts[0]:.2f} s)" if row.charts else ""
        print(
            f"{row.label:<58} {_median(row.loads):>8} {_median(row.charts):>13} {first:>9} "
            f"{_median(row.parts.get('chart data', [])):>11} "
            f"{_median(row.parts.get('plotly', [])):>9} {_median(row.parts.get('cpu', [])):>16}"
        )
    print(
        "(main-thread CPU: the renderer main thread's CPU seconds to the charts drawn, Chromium's"
        " Performance.getMetrics ThreadTime; on a loaded machine the fair measure of the page)"
    )
    label = f"{N_CATALOG_ROWS}-row TOI catalog: upload to result"
    print(f"{label:<58} {_median(catalog_s):>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
