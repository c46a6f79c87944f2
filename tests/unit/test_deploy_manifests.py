"""The deployment files are valid and describe the API, the workers, the migration, PostgreSQL
and Redis.

Kubernetes: every document is checked offline against the API models of the ``kubernetes``
Python client (its ``openapi_types``/``attribute_map``, generated from the Kubernetes OpenAPI
spec): an unknown or misspelt field, a wrong type or a missing required field fails. Compose:
``docker compose config`` runs where the compose plugin is installed (it is not on the
development machine: that test skips, naming why); the structure is checked everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SECRET_NAME = "exoguard"
_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict[(\[]str, (.+)[)\]]$")  # dict(str, X) or dict[str, X]


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _k8s_docs() -> list[dict[str, Any]]:
    return [d for p in sorted(K8S.glob("*.yaml")) for d in _docs(p)]


def _model_class(doc: dict[str, Any]) -> str:
    """``apps/v1`` + ``Deployment`` -> ``V1Deployment`` (the client's class name)."""
    version = str(doc["apiVersion"]).split("/")[-1]
    return version[0].upper() + version[1:] + str(doc["kind"])


def schema_errors(value: Any, type_name: str, path: str = "") -> list[str]:
    """Every mismatch between ``value`` (parsed YAML) and the client model ``type_name``."""
    from kubernetes.client import models

    if (m := _LIST.match(type_name)) is not None:
        if not isinstance(value, list):
            return [f"{path}: expected a list ({type_name}), got {type(value).__name__}"]
        return [
            e for i, v in enumerate(value) for e in schema_errors(v, m.group(1), f"{path}[{i}]")
        ]
    if (m := _DICT.match(type_name)) is not None:
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping ({type_name}), got {type(value).__name__}"]
        return [e for k, v in value.items() for e in schema_errors(v, m.group(1), f"{path}.{k}")]
    simple: dict[str, tuple[type, ...]] = {
        "str": (str,), "int": (int,), "bool": (bool,), "float": (int, float), "datetime": (str,),
        "date": (str,),
    }  # fmt: skip
    if type_name == "object":  # IntOrString, Quantity, free-form
        return []
    if type_name in simple:
        ok = isinstance(value, simple[type_name]) and not (
            type_name in ("int", "float") and isinstance(value, bool)
        )
        return [] if ok else [f"{path}: expected {type_name}, got {value!r}"]
    cls = getattr(models, type_name, None)
    if cls is None:
        return [f"{path}: unknown model type {type_name}"]
    if not isinstance(value, dict):
        return [f"{path}: expected a {type_name} mapping, got {type(value).__name__}"]
    by_json = {json: attr for attr, json in cls.attribute_map.items()}
    errors: list[str] = []
    for key, item in value.items():
        if key not in by_json:
            allowed = ", ".join(sorted(by_json))
            errors.append(f"{path}.{key}: unknown field of {type_name} (allowed: {allowed})")
            continue
        errors += schema_errors(item, cls.openapi_types[by_json[key]], f"{path}.{key}")
    return errors


def required_errors(doc: dict[str, Any]) -> list[str]:
    """Build the client model from the document: its constructors reject missing required
    fields and values outside their enums."""
    from kubernetes.client import ApiClient

    try:
        ApiClient()._ApiClient__deserialize(doc, _model_class(doc))  # type: ignore[attr-defined]
    except (ValueError, TypeError) as exc:
        return [f"{doc['kind']}/{doc['metadata']['name']}: {exc}"]
    return []


def _pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet", "Job")
    }


# ------------------------------------------------------------------------- Kubernetes
@pytest.mark.parametrize("doc", _k8s_docs(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_kubernetes_document_matches_the_api_schema(doc: dict[str, Any]) -> None:
    errors = schema_errors(doc, _model_class(doc), doc["kind"]) + required_errors(doc)
    assert not errors, "\n".join(errors)


def test_schema_check_rejects_misspelt_unknown_and_mistyped_fields() -> None:
    """The validator is not vacuous: each of these mistakes is caught."""
    good = next(
        d
        for d in _k8s_docs()
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "exoguard-api"
    )
    assert schema_errors(good, "V1Deployment") == []
    bad = yaml.safe_load(yaml.safe_dump(good))
    container = bad["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["paht"] = "/readyz"  # misspelt
    container["resources"]["limit"] = {"cpu": "1"}  # "limits"
    bad["spec"]["replicas"] = "3"  # a string
    errors = "\n".join(schema_errors(bad, "V1Deployment"))
    assert "httpGet.paht: unknown field of V1HTTPGetAction" in errors
    assert "resources.limit: unknown field of V1ResourceRequirements" in errors
    assert "spec.replicas: expected int" in errors
    missing = yaml.safe_load(yaml.safe_dump(good))
    del missing["spec"]["template"]["spec"]["containers"][0]["name"]
    assert required_errors(missing)


def test_kubernetes_covers_api_workers_migration_and_stores() -> None:
    docs = _k8s_docs()
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {
        ("Deployment", "exoguard-api"),
        ("Deployment", "exoguard-worker"),
        ("Job", "exoguard-migrate"),
        ("StatefulSet", "postgres"),
        ("Deployment", "redis"),
        ("Secret", SECRET_NAME),
    } <= names
    api = next(
        d for d in docs if d["metadata"]["name"] == "exoguard-api" and d["kind"] == "Deployment"
    )
    assert api["spec"]["replicas"] == 3
    job = next(d for d in docs if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "exoguard",
        "db",
        "upgrade",
    ]
    # Only the Job migrates; API and worker pods wait for it.
    for name in ("exoguard-api", "exoguard-worker"):
        spec = _pod_specs(docs)[name]
        for c in spec["containers"] + spec.get("initContainers", []):
            assert "upgrade" not in c.get("command", []), (name, c["name"])
        assert any("db current" in " ".join(c["command"]) for c in spec["initContainers"])


def test_api_probes_use_healthz_and_the_readiness_check() -> None:
    api = _pod_specs(_k8s_docs())["exoguard-api"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    port_names = {p.get("name") for p in api["ports"]} | {p["containerPort"] for p in api["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert api[probe]["httpGet"]["port"] in port_names


def test_every_container_has_requests_and_limits() -> None:
    for name, spec in _pod_specs(_k8s_docs()).items():
        for c in spec["containers"] + spec.get("initContainers", []):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(kind, {})), (name, c["name"], kind)


def test_workers_scale_on_cpu_with_one_thread_per_process() -> None:
    docs = _k8s_docs()
    hpas = {d["metadata"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert set(hpas) == {"exoguard-api", "exoguard-worker"}
    for hpa in hpas.values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpas["exoguard-api"]["spec"]["minReplicas"] == 3
    worker = _pod_specs(docs)["exoguard-worker"]["containers"][0]
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert env["NUMBA_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "1"
    concurrency = int(worker["command"][worker["command"].index("--concurrency") + 1])
    assert concurrency == int(worker["resources"]["requests"]["cpu"])  # one process per core


def test_secrets_only_from_the_secret_and_selectors_match() -> None:
    docs = _k8s_docs()
    secret = next(d for d in docs if d["kind"] == "Secret")
    secret_keys = set(secret["stringData"])
    assert all(v == "" for v in secret["stringData"].values())  # no secret in the repository
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    for cm in config_maps.values():
        for key, value in cm["data"].items():
            assert not re.search(r"SECRET|PASSWORD|TOKEN", key), key
            assert "@" not in value, key  # no credentials inside a URL
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        labels = d["spec"]["template"]["metadata"]["labels"]
        if "selector" in d["spec"]:
            assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
        spec = d["spec"]["template"]["spec"]
        for c in spec["containers"] + spec.get("initContainers", []):
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] == SECRET_NAME
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
            for e in c.get("env", []):
                assert not re.search(r"SECRET_KEY|PASSWORD|TOKEN", e["name"]) or "valueFrom" in e
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == SECRET_NAME and ref["key"] in secret_keys
        for v in spec.get("volumes", []):
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"]["claimName"] in claims
    services = [d for d in docs if d["kind"] == "Service"]
    pod_labels = [
        d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    ]
    for svc in services:
        assert any(svc["spec"]["selector"].items() <= lb.items() for lb in pod_labels), svc


# ------------------------------------------------------------------------------ Compose
def test_compose_has_every_service_and_no_default_secret() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"api", "worker", "postgres", "redis", "migrate"} <= set(services)
    assert services["worker"]["command"][:2] == ["exoguard", "worker"]
    assert services["migrate"]["command"] == ["exoguard", "db", "upgrade"]
    assert "?" in compose["x-exoguard-env"]["SECRET_KEY"]  # required, never defaulted
    for name in ("api", "worker"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
    worker_env = services["worker"]["environment"]
    assert worker_env["NUMBA_NUM_THREADS"] == "1" and worker_env["SECRET_KEY"].startswith(
        "${SECRET_KEY:?"
    )
    # Replicas that publish a port need a range of host ports, one each.
    api = services["api"]
    low, high = (int(x) for x in api["ports"][0].split(":")[0].split("-"))
    assert high - low + 1 >= api["deploy"]["replicas"]
    assert "readyz" in " ".join(api["healthcheck"]["test"])


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    done = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    return done.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="docker compose plugin not installed here")
def test_docker_compose_config_accepts_the_file() -> None:
    env = {**os.environ, "SECRET_KEY": "x" * 64}
    done = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_image_ships_the_partial_plotly_bundle_the_pages_load() -> None:
    """The Dockerfile builds the bundle from package.json as `make install` does, and copies it
    where the app serves it (without it the pages fall back to the 4.8 MB full bundle)."""
    import json

    from exoguard.web.assets import PARTIAL_PLOTLY_JS

    dockerfile = (ROOT / "Dockerfile").read_text()
    package = json.loads((ROOT / "package.json").read_text())
    (dependency,) = package["dependencies"]
    assert re.search(r"^COPY package\.json package-lock\.json", dockerfile, re.M)
    assert "npm ci" in dockerfile
    served = PARTIAL_PLOTLY_JS.relative_to(ROOT / "src").as_posix()
    copy = re.search(
        r"^COPY --from=charts \S+/" + re.escape(dependency) + r"/(\S+) \\\n\s+(\S+)$",
        dockerfile,
        re.M,
    )
    assert copy is not None, "the Dockerfile does not copy the bundle out of the charts stage"
    assert copy.group(1) == PARTIAL_PLOTLY_JS.name
    assert copy.group(2) == f"./src/{served}"
    # the bundle is copied before the package is installed, so the wheel carries it
    assert dockerfile.index("COPY --from=charts") < dockerfile.index("RUN pip install")
