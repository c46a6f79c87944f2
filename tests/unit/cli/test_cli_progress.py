"""Progress and logs stay readable when stderr is a log file, not a terminal."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exoguard.cli.progress import RepeatFilter, progress
from exoguard.config import get_settings


class _Log(io.StringIO):
    def isatty(self) -> bool:
        return False


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_mode_writes_a_few_whole_lines() -> None:
    out = _Log()
    with progress("search KIC 1", unit="steps", stream=out) as bar:
        for done in range(0, 10_001, 7):
            bar.set(done, 10_000)
        bar.set(10_000, 10_000)
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    assert lines[0] == "search KIC 1: started"
    assert [line.split(": ")[1].split(" ")[0] for line in lines[1:-1]] == ["25%", "50%", "75%"]
    assert lines[-1].startswith("search KIC 1: done (10,000 steps, ")


def test_log_mode_with_a_known_total_and_notes() -> None:
    out = _Log()
    with progress("train", total=4, unit="epochs", stream=out) as bar:
        for _ in range(4):
            bar.note(loss="0.1")
            bar.write("epoch line")
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "train: started (4 epochs)"
    assert lines.count("epoch line") == 4
    assert len(lines) == 4 + 1 + 3 + 1  # epoch lines, start, 25/50/75 %, done
    assert lines[-1].endswith("loss=0.1")


def test_terminal_mode_draws_a_bar_and_disabled_mode_is_silent() -> None:
    term = _Terminal()
    with progress("search", stream=term) as bar:
        bar.set(5, 10)
    assert "\r" in term.getvalue()
    quiet = _Log()
    with progress("search", stream=quiet, enabled=False) as bar:
        bar.set(5, 10)
    assert quiet.getvalue() == ""


def test_repeat_filter_counts_after_the_limit() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    flt = RepeatFilter(limit=3)
    handler.addFilter(flt)
    log = logging.getLogger("exoguard.test.repeat")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(250):
            log.warning("sample %d could not be generated", i)
        log.warning("something else")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().count("could not be generated") == 3
    assert "something else" in stream.getvalue()
    assert flt.summary_lines() == [
        "247 more like 'sample %d could not be generated' from exoguard.test.repeat not shown "
        "(250 in all)"
    ]


def test_search_cli_in_a_log_writes_lines_not_frames(tmp_path: Path) -> None:
    """`exoguard search` with stderr sent to a file: one line per stage, no bar frames."""
    tess = get_settings().lightcurves_dir / "tess"
    files = sorted(tess.glob("*270501383*.fits"))
    if not files:
        pytest.skip("bundled TESS light curve not present")
    log = tmp_path / "search.log"
    with log.open("w") as handle:
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "exoguard"),
                "search",
                str(files[0]),
                "--max-planets",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=handle,
            env={**os.environ, "NUMBA_NUM_THREADS": "2"},
            timeout=300,
        )
    assert done.returncode == 0, log.read_text()
    text = log.read_text()
    assert "\r" not in text
    search_lines = [line for line in text.splitlines() if line.startswith("search TIC")]
    assert search_lines[0].endswith(": started") and ": done (" in search_lines[-1]
    assert len(search_lines) <= 5
