"""Survey mode's pure parts: planning stars, file hashes, thread caps, search stage seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exoguard.config import get_settings
from exoguard.errors import NotFoundError, ValidationError
from exoguard.survey.inputs import (
    StarFiles,
    plan_stars,
    read_manifest,
    scan_folder,
    write_manifest,
)
from exoguard.survey.local import THREAD_VARIABLES, limit_threads_env
from exoguard.survey.pipeline import files_hash

LIGHTCURVES = get_settings().lightcurves_dir


def test_a_folder_groups_the_files_of_one_star_by_their_header(tmp_path: Path) -> None:
    quarters = sorted((LIGHTCURVES / "kepler").glob("kplr010797460-*_llc.fits"))[:3]
    for path in [*quarters, LIGHTCURVES / "tess" / "tic55525572_lc.fits"]:
        (tmp_path / path.name).symlink_to(path)
    (tmp_path / "ktwo210359769-c04_detrended.dat").write_text("Dates Flux\n")
    (tmp_path / "notes.md").write_text("not a light curve")
    stars = scan_folder(tmp_path)
    by_target = {s.target: s for s in stars}
    assert sorted(by_target) == ["EPIC 210359769", "KIC 10797460", "TIC 55525572"]
    assert [Path(f).name for f in by_target["KIC 10797460"].files] == [q.name for q in quarters]


def test_plan_stars_names_what_it_takes(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such folder or manifest"):
        plan_stars(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValidationError, match="no light-curve file found"):
        plan_stars(empty)
    other = tmp_path / "table.txt"
    other.write_text("a,b\n")
    with pytest.raises(ValidationError, match="folder of light curves or a manifest CSV"):
        plan_stars(other)


def test_files_hash_covers_content_and_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"abc")
    b.write_bytes(b"def")
    first = files_hash([str(a), str(b)])
    assert first == files_hash([str(a), str(b)]) and len(first) == 64
    assert first != files_hash([str(b), str(a)])
    b.write_bytes(b"deg")
    assert first != files_hash([str(a), str(b)])
    # the boundary between files counts: "ab"+"c" is not "a"+"bc"
    a.write_bytes(b"ab")
    b.write_bytes(b"c")
    left = files_hash([str(a), str(b)])
    a.write_bytes(b"a")
    b.write_bytes(b"bc")
    assert left != files_hash([str(a), str(b)])


def test_limit_threads_env_caps_every_library() -> None:
    env: dict[str, str] = {"OMP_NUM_THREADS": "8"}
    limit_threads_env(env)
    assert {k: env[k] for k in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "1")


def test_the_thread_cap_bounds_a_model_s_own_thread_count() -> None:
    """A model's ``n_threads`` (2 for the bundled network) never goes past the process's cap:
    two threads on each core of a one-process-per-core survey spin against each other."""
    torch = pytest.importorskip("torch")
    from exoguard.ml.multibranch.predict import cap_threads, torch_threads

    before = torch.get_num_threads()
    try:
        cap_threads(1)
        with torch_threads(4):
            assert torch.get_num_threads() == 1
        cap_threads(None)
        with torch_threads(3):
            assert torch.get_num_threads() == 3
    finally:
        cap_threads(None)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least 1"):
        cap_threads(0)


def test_a_survey_worker_process_runs_the_network_on_one_thread() -> None:
    """`limit_threads` (every survey and Celery worker process) caps the network at 1."""
    code = (
        "from exoguard.survey.local import limit_threads\n"
        "limit_threads()\n"
        "import torch\n"
        "from exoguard.ml.multibranch.predict import torch_threads\n"
        "with torch_threads(2):\n"
        "    print(torch.get_num_threads())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.split() == ["1"]


def test_search_reports_its_stage_seconds() -> None:
    """A survey star's detrend / search / diagnostics seconds come from the search's own
    `SearchResult.stage_s` (one timing mechanism for the search bench and the survey)."""
    from exoguard.core.search.multi import search_lightcurve
    from exoguard.core.search.warmup import synthetic_lightcurve
    from exoguard.services.preprocessing import _SEARCH_STAGES

    lc = synthetic_lightcurve(rng=np.random.default_rng(3))
    result = search_lightcurve(lc, max_planets=2, min_period_days=1.0, max_period_days=5.0)
    assert result.candidates and abs(result.candidates[0].period_days - 3.0) < 0.01
    parts = {part for group in _SEARCH_STAGES.values() for part in group}
    assert parts == set(result.stage_s)  # every stage of the search lands in a survey stage
    stages = {k: sum(result.stage_s[p] for p in group) for k, group in _SEARCH_STAGES.items()}
    assert set(stages) == {"detrend", "search", "diagnostics"}
    assert all(v > 0 for v in stages.values())
    # the stages cover most of the search's wall time (the grid and masking are not timed)
    assert sum(stages.values()) <= result.elapsed_s + 0.02
    assert sum(stages.values()) >= 0.5 * result.elapsed_s


def test_a_written_manifest_reads_back_as_the_same_stars(tmp_path: Path) -> None:
    """write_manifest (the benches' subsets) is what read_manifest reads: stars, missions
    (blank for None) and files in order, several files of one star grouped again."""
    stars = [
        StarFiles("TIC 1", "tess", (str(tmp_path / "a.fits"), str(tmp_path / "b.fits"))),
        StarFiles("KIC 2", None, (str(tmp_path / "c.fits"),)),
    ]
    out = write_manifest(stars, tmp_path / "m.csv")
    assert out.read_text().splitlines()[0] == "path,target,mission"
    assert read_manifest(out) == stars
