"""What a user meets: real files uploaded to a running `exoguard serve`, verdicts read back.

Run against the server `make run` starts (or any other):

    .venv/bin/python bench/user_paths.py --base http://127.0.0.1:8000

It registers a throw-away explorer account and, through the HTTP API only:

* uploads each of the 17 Kepler-227 quarters alone, then all 17 in one upload, and prints
  the verdict on the 9.49-day signal (Kepler-227 b, K00752.01) with its catalog match;
* uploads the π Men TESS light curve as FITS and the same light curve as a CSV (no header,
  no star), and prints both verdicts on the 6.27-day signal;
* types in Kepler-227 b with period, duration and depth only.

"flagged" means the verdict goes to the vetting queue (the server's own rule: uncertainty
above the threshold, or a probability inside the ambiguous band).
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from exoguard.config import get_settings  # noqa: E402

KEPLER_227 = "kplr010797460-*_llc.fits"
PI_MEN = "tess2018206045859-s0001-0000000261136679-0120-s_lc.fits"


class Client:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=600)
        email = f"bench-{secrets.token_hex(4)}@example.org"
        password = secrets.token_urlsafe(16)
        r = self.http.post(
            "/api/auth/register", json={"email": email, "password": password, "name": "bench"}
        )
        r.raise_for_status()
        r = self.http.post("/api/auth/login", json={"email": email, "password": password})
        r.raise_for_status()
        self.csrf = {"X-CSRF-Token": r.cookies["exoguard_csrf"]}
        policy = self.http.get("/api/vetting/policy")
        self.policy = policy.json() if policy.status_code == 200 else {}

    def upload(self, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
        r = self.http.post("/api/data/upload", files=parts, headers=self.csrf)
        r.raise_for_status()
        dataset = r.json()["dataset"]["id"] if "dataset" in r.json() else r.json()["id"]
        r = self.http.post("/api/data/preprocess", json={"dataset_id": dataset}, headers=self.csrf)
        r.raise_for_status()
        job = r.json()["job"]["id"] if "job" in r.json() else r.json()["job_id"]
        while True:
            view = self.http.get(f"/api/jobs/{job}").json()
            status = view.get("job", view).get("status")
            if status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.5)
        if status != "succeeded":
            raise RuntimeError(f"job {job} {status}: {json.dumps(view)[:500]}")
        result = view.get("job", view).get("result") or {}
        predictions = list(result.get("predictions") or [])
        # the cards' data, as the explore page reads it
        rows = self.http.get(f"/explore/datasets/{dataset}/candidates").json()["candidates"]
        by_id = {c["id"]: c for c in rows}
        for v in predictions:
            c = by_id.get(v.get("candidate_id"), {})
            v["period_days"] = c.get("period_days")
            v.setdefault("catalog_match", c.get("catalog_match"))
        return predictions

    def predict(self, candidate: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(
            "/api/models/predict", json={"candidates": [candidate]}, headers=self.csrf
        )
        r.raise_for_status()
        return dict(r.json()["predictions"][0])


def flagged(v: dict[str, Any], policy: dict[str, Any]) -> bool:
    threshold = policy.get("uncertainty_threshold", 0.15)
    band = policy.get("ambiguous_band") or (0.2, 0.8)
    return bool(v["uncertainty"] > threshold or band[0] <= v["probability"] <= band[1])


def _near(
    predictions: list[dict[str, Any]], object_id: str, period_days: float
) -> dict[str, Any] | None:
    """The verdict on the signal matched to `object_id`, else the one within 1 % of its
    period (a file with no identifiers cannot be matched)."""
    for v in predictions:
        match = v.get("catalog_match") or {}
        if match.get("matched") and match.get("object_id") == object_id:
            return v
    for v in predictions:
        p = v.get("period_days")
        if p and abs(p / period_days - 1) < 0.01:
            return v
    return None


def _line(label: str, v: dict[str, Any] | None, policy: dict[str, Any]) -> str:
    if v is None:
        return f"{label:34s} not found by the search"
    match = (v.get("catalog_match") or {}).get("summary", "no match shown")
    pattern = (v.get("basis") or {}).get("pattern", "?")
    return (
        f"{label:34s} p={v['probability']:.3f} ± {v['uncertainty']:.3f} "
        f"{'FLAGGED' if flagged(v, policy) else 'confident':9s} [{pattern}] {match}"
    )


def _csv_of(path: Path) -> bytes:
    from exoguard import read_lightcurve

    lc = read_lightcurve(path)
    out = io.StringIO()
    # what a user's export holds: TESS time (BTJD) and the relative flux, no header keywords
    out.write("time,flux,flux_err\n")
    for t, f, e in zip(lc.time_bjd - 2457000.0, lc.flux, lc.flux_err, strict=True):
        out.write(f"{t:.7f},{f:.8g},{e:.6g}\n")
    return out.getvalue().encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--quarters", type=int, default=17, help="how many quarters alone")
    parser.add_argument("--only", choices=("all", "pi-men"), default="all")
    args = parser.parse_args()
    data = get_settings().lightcurves_dir
    client = Client(args.base)
    policy = client.policy
    quarters = sorted((data / "kepler").glob(KEPLER_227))
    print(f"Kepler-227 b (K00752.01), {len(quarters)} quarters, server {args.base}")
    if args.only == "pi-men":
        quarters, args.quarters = quarters[:1], 0
    above, flagged_below, confident_wrong = 0, 0, 0
    for q in quarters[: args.quarters]:
        v = _near(client.upload([(q.name, q.read_bytes())]), "K00752.01", 9.488036)
        print(_line(q.name, v, policy))
        if v is None:
            continue
        if v["probability"] > 0.5:
            above += 1
        elif flagged(v, policy):
            flagged_below += 1
        else:
            confident_wrong += 1
    print(
        f"single quarters: {above} above 0.5, {flagged_below} below but flagged, "
        f"{confident_wrong} confident and wrong"
    )
    v = _near(client.upload([(q.name, q.read_bytes()) for q in quarters]), "K00752.01", 9.488036)
    print(_line(f"all {len(quarters)} quarters in one upload", v, policy))
    fits = data / "tess" / PI_MEN
    v_fits = _near(client.upload([(fits.name, fits.read_bytes())]), "TOI-144.01", 6.267832)
    v_csv = _near(client.upload([("pi_men.csv", _csv_of(fits))]), "TOI-144.01", 6.267832)
    print(_line("π Men as FITS", v_fits, policy))
    print(_line("π Men as CSV (no header)", v_csv, policy))
    typed = client.predict({"period_days": 9.488036, "duration_hours": 2.9575, "depth_ppm": 615.8})
    print(_line("Kepler-227 b typed in (3 fields)", typed, policy))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
