"""The deployment files parse and describe the API, the workers, PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_has_every_service_and_no_default_secret() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert {"api", "worker", "postgres", "redis"} <= set(compose["services"])
    assert compose["services"]["worker"]["command"][:2] == ["exoguard", "worker"]
    assert "?" in compose["x-exoguard-env"]["SECRET_KEY"]  # required, never defaulted


def test_kubernetes_manifests_cover_api_workers_and_stores() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/exoguard.yaml").read_text()) if d]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "exoguard-api") in names
    assert ("Deployment", "exoguard-worker") in names
    assert ("StatefulSet", "postgres") in names
    assert ("Deployment", "redis") in names
    hpa = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert {h["metadata"]["name"] for h in hpa} == {"exoguard-api", "exoguard-worker"}
