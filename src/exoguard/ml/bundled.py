"""The default model that ships with the repository: the network and its stacker.

Training the network takes longer than ``make run`` may (about 10 minutes on 2 CPUs for the
``default`` config, against a 10-minute budget for the whole of ``make run``), so the
repository ships a trained network (``bundled/default/network/``: tensors and JSON, nothing
pickled) and the coefficients of the decision-level stacker fit with it
(``bundled/default/ensemble.json``). ``make run`` trains the GBM (seconds), then
:func:`install_bundle` registers the shipped network and an ensemble of it with that GBM, and
activates the ensemble: the light curve counts from the first upload.

``bundle.json`` records how the bundle was built (the command, the network's data hash, the
GBM config the stacker was fit with) and its held-out figures; ``tools/build_default_model.sh``
rebuilds it from the bundled data, and ``tests/unit/ml/test_bundled_model.py`` checks the data
hash and the figures.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from exoguard.errors import ModelNotReadyError
from exoguard.ml.ensemble import KIND as ENSEMBLE_KIND
from exoguard.ml.ensemble import DecisionEnsemble
from exoguard.ml.multibranch.paths import DataPaths
from exoguard.ml.registry import ModelRegistry, VersionRecord

logger = logging.getLogger(__name__)

#: Where the shipped default model lives (inside the package, so an install carries it).
BUNDLE_DIR: Final = Path(__file__).resolve().parent / "bundled" / "default"
_NETWORK = "network"
Log = Callable[[str], None]


def read_bundle(directory: Path = BUNDLE_DIR) -> dict[str, Any]:
    """``bundle.json`` of a bundle; ``ModelNotReadyError`` when there is none."""
    path = directory / "bundle.json"
    if not path.is_file():
        raise ModelNotReadyError(
            f"no bundled model in {directory}; build one with tools/build_default_model.sh"
        )
    data = json.loads(path.read_text())
    return dict(data)


def export_bundle(
    ensemble_version: str,
    *,
    registry: ModelRegistry,
    paths: DataPaths,
    dest: Path = BUNDLE_DIR,
    command: str = "tools/build_default_model.sh",
) -> dict[str, Any]:
    """Write an ensemble version's network and stacker as the bundle in ``dest``
    (``paths``: the data the network's injected-set key is computed from)."""
    from exoguard.ml.configs import GBMConfig

    ens_rec = registry.get(ensemble_version)
    if ens_rec.kind != ENSEMBLE_KIND:
        raise ValueError(f"{ensemble_version} is a {ens_rec.kind} version, not an ensemble")
    ens = DecisionEnsemble.from_dict(ens_rec.config)
    mb_rec = registry.get(ens.mb_version)
    gbm_rec = registry.get(ens.gbm_version)
    src = _artifacts(mb_rec, registry)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / _NETWORK).mkdir(parents=True)
    for item in sorted(src.iterdir()):
        if item.is_file() and item.name != "manifest.json":
            shutil.copyfile(item, dest / _NETWORK / item.name)
    ens.save(dest)
    gbm_config = GBMConfig.model_validate(gbm_rec.config)
    files = {f"{_NETWORK}/{f.name}": _sha256(f) for f in sorted((dest / _NETWORK).iterdir())}
    files["ensemble.json"] = _sha256(dest / "ensemble.json")
    bundle = {
        "format": "exoguard-bundle-1",
        "command": command,
        "network": {
            "source_version": mb_rec.id,
            "config_name": (mb_rec.config or {}).get("name"),
            "data_hash": mb_rec.data_hash,
            "injected_set_key": injected_set_key(dict(mb_rec.config or {}), paths=paths),
        },
        "files": files,
        "gbm": {
            "source_version": gbm_rec.id,
            "config_name": gbm_config.name,
            "config": gbm_rec.config,
            "data_hash": gbm_rec.data_hash,
        },
        "ensemble": {"source_version": ens_rec.id, "metrics": _slim(ens_rec.metrics)},
    }
    (dest / "bundle.json").write_text(json.dumps(bundle, indent=2, sort_keys=True))
    return bundle


#: Long per-point arrays left out of ``bundle.json``'s ensemble figures.
_BULKY = frozenset({"roc_curve", "pr_curve", "reliability", "history", "signals"})


def _slim(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _slim(v) for k, v in value.items() if k not in _BULKY}
    if isinstance(value, list):
        return [_slim(v) for v in value]
    return value


def network_metrics(directory: Path = BUNDLE_DIR) -> dict[str, Any]:
    """The bundled network's training report (``network/metrics.json``, as registered)."""
    data = json.loads((directory / _NETWORK / "metrics.json").read_text())
    return dict(data)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def injected_set_key(config: dict[str, Any], *, paths: DataPaths) -> str:
    """The key of the injected set a network config draws from the light curves of
    ``paths`` (config, generator version, every host file): equal keys, equal training
    samples."""
    from exoguard.ml.multibranch.catalog_sets import default_catalog_frames
    from exoguard.ml.multibranch.configs import MultibranchConfig
    from exoguard.ml.multibranch.hosts import default_hosts
    from exoguard.ml.multibranch.injected_set import injected_cache_key

    cfg = MultibranchConfig.model_validate(config)
    hosts = default_hosts(
        default_catalog_frames(paths.catalogs_dir), lightcurves_dir=paths.lightcurves_dir
    )
    return injected_cache_key(cfg, hosts)


def verify_files(directory: Path = BUNDLE_DIR) -> list[str]:
    """Files of the bundle whose SHA-256 differs from ``bundle.json`` (empty: intact)."""
    bundle = read_bundle(directory)
    return [
        name
        for name, digest in sorted(bundle.get("files", {}).items())
        if not (directory / name).is_file() or _sha256(directory / name) != digest
    ]


def _artifacts(record: VersionRecord, registry: ModelRegistry) -> Path:
    for directory in (Path(record.artifact_path), registry.artifact_dir(record.id)):
        if directory.is_dir():
            return directory
    raise ModelNotReadyError(f"the artifacts of {record.id} are missing")


def _install_network(bundle: dict[str, Any], directory: Path, registry: ModelRegistry) -> str:
    digest = str(bundle["network"]["data_hash"])
    for rec in registry.list():
        if rec.kind == "multibranch" and rec.data_hash == digest:
            return rec.id  # installed before
    version_id = registry.next_version_id("multibranch")
    target = registry.artifact_dir(version_id)
    try:
        shutil.copytree(directory / _NETWORK, target)
        config = json.loads((target / "config.json").read_text())
        registry.register(
            version_id=version_id,
            kind="multibranch",
            config=config,
            data_hash=digest,
            metrics={**network_metrics(directory), "bundled": True},
            activate_if_none=False,
        )
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return version_id


def install_bundle(
    *,
    registry: ModelRegistry,
    directory: Path = BUNDLE_DIR,
    gbm_version: str | None = None,
    activate: bool = True,
    log: Log | None = None,
) -> VersionRecord:
    """Register the bundled network and an ensemble of it with a GBM; activate it.

    The GBM is ``gbm_version``, else the newest GBM whose config has the bundle's GBM config
    name (the stacker was fit with that config). Installing again reuses the versions and
    changes nothing: the ensemble is activated only when it is first registered.
    """
    bundle = read_bundle(directory)
    want = str(bundle["gbm"]["config_name"])
    if gbm_version is None:
        gbms = [r for r in registry.list() if r.kind == "gbm"]
        same = [r for r in gbms if (r.config or {}).get("name") == want]
        if not same:
            raise ModelNotReadyError(
                f"no GBM of config {want!r} to pair with the bundled network; run "
                f"`exoguard train --model gbm --config {want}` first"
            )
        gbm_version = same[0].id  # newest first
    mb_version = _install_network(bundle, directory, registry)
    stacker = DecisionEnsemble.load(directory)
    ens = DecisionEnsemble(
        stacker.coef, stacker.intercept, mb_version, gbm_version, stacker.threshold
    )
    existing = [
        r
        for r in registry.list()
        if r.kind == ENSEMBLE_KIND
        and r.config.get("mb_version") == mb_version
        and r.config.get("gbm_version") == gbm_version
    ]
    if existing:
        record = existing[0]
    else:
        version_id = registry.next_version_id(ENSEMBLE_KIND)
        target = registry.artifact_dir(version_id)
        try:
            ens.save(target)
            gbm_dir = _artifacts(registry.get(gbm_version), registry)
            if (gbm_dir / "importance.json").is_file():
                shutil.copyfile(gbm_dir / "importance.json", target / "importance.json")
            record = registry.register(
                version_id=version_id,
                kind=ENSEMBLE_KIND,
                config=ens.to_dict(),
                data_hash=f"{mb_version}+{gbm_version}",
                metrics={**dict(bundle["ensemble"]["metrics"] or {}), "bundled": True},
                activate_if_none=False,
            )
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
    if activate and not existing:  # a later run keeps whatever the user activated since
        record = registry.activate(record.id)
    if log:
        log(f"{record.id} ({mb_version} + {gbm_version}) is {record.status}")
    return record


__all__ = [
    "BUNDLE_DIR",
    "export_bundle",
    "injected_set_key",
    "install_bundle",
    "network_metrics",
    "read_bundle",
    "verify_files",
]
