"""The multi-branch neural classifier and the ensemble on the command line.

* :func:`run_train`, :func:`run_train_ensemble` and :func:`run_evaluate` are what
  ``exoguard train --model multibranch|ensemble`` and ``exoguard evaluate --version V``
  (``cli/ml.py``) call for these kinds.
* ``exoguard train-neural`` and ``exoguard evaluate-neural`` are deprecated aliases: they
  print the new command and run it.
* ``exoguard classify FILE... [--model VERSION] --json``: read → search → classify.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from exoguard.cli.progress import progress
from exoguard.config import get_settings
from exoguard.errors import ConfigError, ValidationError

NEURAL_KINDS = ("multibranch", "ensemble")


def _dump(obj: Any) -> str:
    from exoguard.jsonsafe import jsonable

    return json.dumps(jsonable(obj), indent=2, default=str)


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _config(name: str | None, params: list[str] | None) -> Any:
    from exoguard.ml.multibranch.config_registry import DEFAULT_CONFIG, apply_overrides, get_config

    return apply_overrides(get_config(name or DEFAULT_CONFIG), params or [])


def run_train(
    *,
    config_name: str | None,
    params: list[str] | None,
    as_json: bool,
    real: bool = True,
) -> dict[str, Any]:
    """Train a multibranch version with progress bars on stderr; returns the summary."""
    from exoguard.ml.multibranch.paths import DataPaths
    from exoguard.ml.multibranch.train import prepare_data, train_multibranch
    from exoguard.store.model_registry import settings_registry

    cfg = _config(config_name, params)
    inj = cfg.data.injection
    with progress("injected set", total=inj.n_samples + inj.n_test, unit="samples") as bar:
        t0 = time.perf_counter()
        data = prepare_data(cfg, paths=DataPaths.from_settings(get_settings()), progress=bar.update)
        data_seconds = time.perf_counter() - t0
    members = cfg.uncertainty.n_members if cfg.uncertainty.method == "ensemble" else 1
    with progress(
        "train multibranch", total=cfg.training.epochs * members, unit="epochs", leave=True
    ) as bar:

        def on_epoch(e: Any) -> None:
            bar.note(
                loss=f"{e.train_loss:.4f}",
                val_loss=f"{e.val_loss:.4f}",
                val_auc="-" if e.val_auc is None else f"{e.val_auc:.4f}",
            )
            bar.write(
                f"member {e.member} epoch {e.epoch}: loss {e.train_loss:.4f} "
                f"val_loss {e.val_loss:.4f} val_auc {e.val_auc or float('nan'):.4f}"
                f"{' *' if e.best else ''} ({e.seconds:.1f} s)"
            )
            bar.update(1)

        model, metrics, record = train_multibranch(
            cfg,
            data=data,
            registry=settings_registry(get_settings()),
            on_epoch=on_epoch,
            real_lightcurves_dir=get_settings().lightcurves_dir if real else None,
            log=_err,
            data_seconds=data_seconds,
        )
    inj_m = metrics.get("injected_test") or {}
    summary = {
        "trained": True,
        "version": record.id,
        "status": record.status,
        "config": cfg.name,
        "train_seconds": metrics["train_seconds"],
        "data_seconds": metrics["data_seconds"],
        "epochs_run": metrics["epochs_run"],
        "injected_test": {
            k: inj_m.get(k)
            for k in (
                "roc_auc",
                "pr_auc",
                "accuracy",
                "ece",
                "brier",
                "uncertainty_auc",
                "conformal_coverage_90",
            )
        },
        "acceptance": metrics.get("acceptance"),
    }
    if not as_json:
        _err(
            f"{record.id} ({record.status}) config {cfg.name}: injected test ROC AUC "
            f"{inj_m.get('roc_auc') or float('nan'):.4f}, uncertainty AUC "
            f"{inj_m.get('uncertainty_auc') or float('nan'):.4f}; "
            f"trained in {metrics['train_seconds']} s"
        )
    return summary


def run_evaluate(*, version: str | None, real: bool = True) -> dict[str, Any]:
    """Re-evaluate a multibranch version on its held-out sets (stored in the registry)."""
    from exoguard.jsonsafe import jsonable
    from exoguard.ml.multibranch.paths import DataPaths
    from exoguard.ml.multibranch.train import (
        evaluate_model,
        load_multibranch,
        prepare_data,
    )
    from exoguard.store.model_registry import settings_registry

    registry = settings_registry(get_settings())
    model, record = load_multibranch(version, registry=registry)
    data = prepare_data(
        model.config,
        paths=DataPaths.from_settings(get_settings()),
        features=model.feature_names,
    )
    report = evaluate_model(
        model, data, lightcurves_dir=get_settings().lightcurves_dir if real else None, log=_err
    )
    digest = data.digest()
    report = {
        "version": record.id,
        "kind": record.kind,
        "config": model.config.model_dump(mode="json"),
        "features": list(model.feature_names),
        "data_hash": digest,
        "data_hash_matches_training": digest == record.data_hash,
        **report,
    }
    registry.update_metrics(record.id, {"multibranch_evaluation": jsonable(report)})
    points = {
        "injected_roc_auc": (report.get("injected_test") or {}).get("roc_auc"),
        "injected_uncertainty_auc": (report.get("injected_test") or {}).get("uncertainty_auc"),
        "kepler_holdout_roc_auc": ((report.get("catalog") or {}).get("kepler_holdout") or {}).get(
            "roc_auc"
        ),
    }
    registry.record_metric_points(
        record.id, {k: v for k, v in points.items() if v is not None}, labels={"source": "evaluate"}
    )
    return report


def deprecated(old: str, new: str) -> None:
    """Say on stderr that ``old`` is a deprecated alias of ``new``."""
    typer.echo(f"warning: `exoguard {old}` is deprecated; use `exoguard {new}`", err=True)


def train_neural(
    config: Annotated[
        str | None,
        typer.Option("--config", help="Named multibranch config (see `exoguard train --help`)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Override NAME=VALUE (repeatable)."),
    ] = None,
    real: Annotated[
        bool, typer.Option("--real/--no-real", help="Also score the bundled real light curves.")
    ] = True,
    activate: Annotated[bool, typer.Option("--activate", help="Make it the active model.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Deprecated: `exoguard train --model multibranch`."""
    from exoguard.cli.ml import train

    deprecated("train-neural", "train --model multibranch")
    train(
        model="multibranch",
        config=config,
        param=param,
        if_missing=False,
        activate=activate,
        real=real,
        as_json=as_json,
    )


def evaluate_neural(
    version: Annotated[
        str | None, typer.Option("--version", help="multibranch version (default: the newest).")
    ] = None,
    real: Annotated[
        bool, typer.Option("--real/--no-real", help="Score the real light curves.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Deprecated: `exoguard evaluate --version multibranch-NNNN`."""
    deprecated("evaluate-neural", "evaluate --version multibranch-NNNN")
    report = run_evaluate(version=version, real=real)
    if as_json:
        typer.echo(_dump(report))
        return
    print_report(report)


def print_report(report: dict[str, Any]) -> None:
    def line(name: str, m: dict[str, Any] | None) -> None:
        if not m:
            return
        typer.echo(
            f"{name:<28} n={m['n']:<6} ROC AUC {m['roc_auc'] or float('nan'):.4f}  "
            f"PR AUC {m['pr_auc'] or float('nan'):.4f}  ECE {m['ece']:.4f}  "
            f"unc AUC {m.get('uncertainty_auc') or float('nan'):.4f}  "
            f"cov90 {m.get('conformal_coverage_90') or float('nan'):.3f}"
        )

    typer.echo(f"version {report['version']}")
    line("injected_test", report.get("injected_test"))
    cat = report.get("catalog") or {}
    line("catalog.kepler_holdout", cat.get("kepler_holdout"))
    for m, v in (cat.get("cross_mission") or {}).items():
        line(f"catalog.cross_mission.{m}", v)
    real = report.get("real_lightcurves")
    if real:
        for o in real["objects"]:
            p = o["probability"]
            typer.echo(
                f"  {o['object_id']:<12} {o['label']:<15} "
                f"{'not found' if p is None else f'p={p:.3f}'}"
                f"{' (uncertain)' if o.get('uncertain') else ''}"
            )
    typer.echo(f"acceptance: {report.get('acceptance')}")


def _group_by_target(files: list[Path]) -> list[Any]:
    """Read every file; stitch the files of one target."""
    from exoguard.core.cleaning import stitch
    from exoguard.io import read_lightcurve

    groups: dict[str, list[Any]] = {}
    for f in files:
        lc = read_lightcurve(f)
        groups.setdefault(lc.target_id, []).append(lc)
    return [stitch(lcs) if len(lcs) > 1 else lcs[0] for lcs in groups.values()]


def classify(
    files: Annotated[list[Path], typer.Argument(help="Light-curve files (FITS, CSV, JSON).")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help=(
                "multibranch or ensemble version (default: the active one when it is one of "
                "those, else the newest multibranch)."
            ),
        ),
    ] = None,
    max_planets: Annotated[int, typer.Option("--max-planets", min=1, max=20)] = 5,
    top: Annotated[
        int, typer.Option("--top", min=1, max=50, help="Top contributing features per candidate.")
    ] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read → search → classify every candidate with the multi-branch model."""
    from exoguard.ml.multibranch.catalog_sets import default_catalog_frames
    from exoguard.ml.multibranch.classify import classify_lightcurves
    from exoguard.ml.multibranch.inputs import star_lookup
    from exoguard.ml.multibranch.train import load_multibranch

    if not files:
        raise ValidationError("give at least one light-curve file")
    from exoguard.ml.ensemble import DecisionEnsemble, best_multibranch
    from exoguard.ml.flagging import FlagRule
    from exoguard.store.model_registry import settings_registry

    settings = get_settings()
    registry = settings_registry(settings)
    chosen = registry.get(model) if model else registry.active()
    ensemble_version = None
    mb_version = model
    if chosen is not None and chosen.kind == "ensemble":
        ensemble_version = chosen.id
        mb_version = DecisionEnsemble.from_dict(chosen.config).mb_version
    elif chosen is not None and chosen.kind == "multibranch":
        mb_version = chosen.id
    elif model is None:  # a gbm is active: the best full network
        mb_version = best_multibranch(registry)
    mb, record = load_multibranch(mb_version, registry=registry)
    stars = star_lookup(default_catalog_frames(get_settings().catalogs_dir))
    targets = classify_lightcurves(
        _group_by_target(list(files)),
        model=mb,
        stars=stars,
        max_planets=max_planets,
        top=top,
        ensemble_version=ensemble_version,
        registry=registry,
        flag_rule=FlagRule.from_settings(settings),
    )
    out = {"model_version": ensemble_version or record.id, "targets": targets}
    if as_json:
        typer.echo(_dump(out))
        return
    for t in targets:
        typer.echo(
            f"{t['target']} ({t['mission']}, {t['n_points']} points): "
            f"{len(t['candidates'])} candidates"
        )
        for c in t["candidates"]:
            typer.echo(
                f"  {c['object_id']:<18} P={c['period_days']:.5f} d  depth "
                f"{c['depth_ppm'] or float('nan'):.0f} ppm  p={c['probability']:.3f} "
                f"± {c['uncertainty']:.3f}  {c['label']}{' (uncertain)' if c['uncertain'] else ''}"
            )


ENSEMBLE_PARAMS = ("mb_version", "gbm_version")


def _ensemble_params(params: list[str] | None) -> dict[str, str]:
    """``--param mb_version=V --param gbm_version=V`` of ``train --model ensemble``."""
    out: dict[str, str] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in ENSEMBLE_PARAMS or not value.strip():
            raise ConfigError(
                f"--param for --model ensemble must be NAME=VERSION with NAME one of "
                f"{', '.join(ENSEMBLE_PARAMS)}; got {item!r}"
            )
        out[key.strip()] = value.strip()
    return out


def run_train_ensemble(params: list[str] | None, *, real: bool = True) -> dict[str, Any]:
    """Build and register the ensemble of a multibranch and a gbm version (default: the newest
    of each); activated by itself only when better on the held-out sets."""
    from exoguard.ml.ensemble import build_and_register
    from exoguard.ml.multibranch.paths import DataPaths
    from exoguard.store.model_registry import settings_registry

    versions = _ensemble_params(params)
    record = build_and_register(
        versions.get("mb_version"),
        versions.get("gbm_version"),
        registry=settings_registry(get_settings()),
        paths=DataPaths.from_settings(get_settings()),
        real_lightcurves_dir=get_settings().lightcurves_dir if real else None,
        log=_err,
    )
    _err(
        f"{record['id']} ({record['status']}) built from {record['config'].get('mb_version')} "
        f"and {record['config'].get('gbm_version')}"
    )
    return {"trained": True, "version": record["id"], "status": record["status"], "record": record}


def register(app: typer.Typer) -> None:
    app.command("train-neural")(train_neural)
    app.command("evaluate-neural")(evaluate_neural)
    app.command("classify")(classify)


__all__ = ["ConfigError", "NEURAL_KINDS", "register"]
