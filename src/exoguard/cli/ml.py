"""`exoguard train`, `evaluate`, `predict` and `models list|activate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from exoguard.cli.progress import progress
from exoguard.config import get_settings
from exoguard.errors import ConfigError, ModelNotReadyError
from exoguard.jsonsafe import jsonable

MODEL_KINDS = ("gbm", "multibranch", "ensemble")


def _dump(obj: Any) -> str:
    return json.dumps(jsonable(obj), indent=2)


def _config(name: str, params: list[str] | None) -> Any:
    from exoguard.ml.configs import apply_overrides, get_config

    return apply_overrides(get_config(name), params or [])


def train(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Model kind: gbm (catalog GBM), multibranch (the neural network) or ensemble "
            "(the two combined; --param mb_version=V --param gbm_version=V, default the newest).",
        ),
    ] = "gbm",
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Named config. gbm: default, small, transfer. multibranch: default (the "
            "shipped network), base, design, small, no_timeseries, no_views, no_scalar. "
            "Not used by ensemble.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Override NAME=VALUE (repeatable), e.g. --param num_leaves=15 (gbm), "
            "--param epochs=5 (multibranch), --param mb_version=multibranch-0002 "
            "(ensemble).",
        ),
    ] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when an active model exists.")
    ] = False,
    evaluation: Annotated[
        bool,
        typer.Option(
            "--evaluation/--no-evaluation",
            help="gbm: score the new version on the named evaluation sets (default; about "
            "40 s for the default config). Without it the pages say the version was not "
            "evaluated until `exoguard evaluate --version` runs.",
        ),
    ] = True,
    activate: Annotated[
        bool,
        typer.Option(
            "--activate",
            help="Make the new version active (by the rule of `exoguard models activate`). "
            "Without it a gbm becomes active only when none is, an ensemble only when better.",
        ),
    ] = False,
    real: Annotated[
        bool,
        typer.Option(
            "--real/--no-real", help="multibranch, ensemble: also score the bundled light curves."
        ),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the version record as JSON.")
    ] = False,
) -> None:
    """Train a model kind on the bundled data and register it as a new version."""
    if model not in MODEL_KINDS:
        raise ConfigError(f"--model must be one of {', '.join(MODEL_KINDS)}; got {model!r}")
    from exoguard.store.model_registry import settings_registry

    registry = settings_registry(get_settings())
    active = registry.active()
    if if_missing and active is not None:
        if as_json:
            typer.echo(_dump({"trained": False, "active": active.to_dict()}))
        else:
            typer.echo(f"active model {active.id} exists; nothing to do", err=True)
        return
    summary = _train_kind(
        model, config, param, registry=registry, as_json=as_json, evaluation=evaluation, real=real
    )
    version_id = str(summary["version"]["id"] if model == "gbm" else summary["version"])
    if activate:
        summary["status"] = _activate_trained(registry, version_id, as_json=as_json)
    if as_json:
        typer.echo(_dump(summary))


def _train_kind(
    model: str,
    config: str | None,
    param: list[str] | None,
    *,
    registry: Any,
    as_json: bool,
    evaluation: bool,
    real: bool,
) -> dict[str, Any]:
    """Train one model kind; its summary (``version`` names the new version)."""
    if model == "gbm":
        return _train_gbm(
            config or "default", param, registry=registry, as_json=as_json, evaluation=evaluation
        )
    if model == "multibranch":
        from exoguard.cli.neural import run_train

        return run_train(config_name=config, params=param, as_json=as_json, real=real)
    from exoguard.cli.neural import run_train_ensemble

    if config is not None:
        raise ConfigError("--config is not used by --model ensemble; pass --param instead")
    return run_train_ensemble(param, real=real)


def _activate_trained(registry: Any, version_id: str, *, as_json: bool) -> str:
    """Activate the version just trained (the models cache is cleared); its status."""
    from exoguard.ml.service import clear_cache

    record = registry.activate(version_id)
    clear_cache()
    if not as_json:
        typer.echo(f"{record.id} is active", err=True)
    return record.status


def _train_gbm(
    config: str, params: list[str] | None, *, registry: Any, as_json: bool, evaluation: bool
) -> dict[str, Any]:
    from exoguard.ml.evalsets import headline
    from exoguard.ml.train import n_boosters_to_train, train_gbm

    cfg = _config(config, params)
    # training, then the named evaluation sets (exoguard.ml.evalsets), as every route does
    total = n_boosters_to_train(cfg, with_evaluation=evaluation)
    with progress("train gbm", total=total, unit="boosters") as bar:
        record = train_gbm(
            cfg,
            catalogs_dir=get_settings().catalogs_dir,
            registry=registry,
            progress=bar.update,
            with_evaluation=evaluation,
        )
    if not as_json:
        name, figures = headline(record.kind, record.metrics, config=record.config)
        typer.echo(
            f"{record.id} ({record.status}) trained on {record.metrics.get('n_train')} rows in "
            f"{record.metrics.get('train_seconds')} s; {name}: ROC AUC "
            f"{figures.get('roc_auc', float('nan')):.4f}, "
            f"ECE {figures.get('ece', float('nan')):.4f}"
        )
    return {"trained": True, "version": record.to_dict()}


def evaluate(
    version: Annotated[
        str | None,
        typer.Option("--version", help="Evaluate this version's config (default: the active one)."),
    ] = None,
    config: Annotated[
        str | None, typer.Option("--config", help="Evaluate a named config instead of a version's.")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Override NAME=VALUE.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    paths: Annotated[
        bool,
        typer.Option(
            "--paths",
            help=(
                "Evaluate every path users take (complete KOI rows, the same rows with fields "
                "missing, DR24 TCEs, TOI and K2 rows, the bundled light curves through the web "
                "code), each beside a plain eight-field LightGBM."
            ),
        ),
    ] = False,
) -> None:
    """Evaluate a version (default: the active one) on its named held-out sets.

    gbm: Kepler CV grouped by star, and a Kepler-only model scored on TESS and K2;
    multibranch: the injected test set, catalog rows and real light curves; ensemble: the
    held-out comparison of its components. ``--paths``: every path users take.
    """
    if (
        not paths
        and config is None
        and version is not None
        and _evaluate_neural_kind(version, as_json=as_json)
    ):
        return
    if paths:
        from exoguard.cli.paths import print_paths, run_paths

        report = run_paths(version=version, log=lambda m: typer.echo(m, err=True))
        if as_json:
            typer.echo(_dump(report))
        else:
            print_paths(report)
        return
    from exoguard.catalogs import load_default_catalogs
    from exoguard.ml.configs import GBMConfig, apply_overrides, get_config
    from exoguard.ml.evaluate import evaluate as run_evaluation
    from exoguard.ml.evaluate import n_boosters_for_evaluation
    from exoguard.store.model_registry import settings_registry

    registry = settings_registry(get_settings())
    record = None
    if config is not None:
        cfg = get_config(config)
    else:
        record = registry.get(version) if version else registry.active()
        cfg = GBMConfig.model_validate(record.config) if record else get_config("default")
    cfg = apply_overrides(cfg, param or [])
    tables = load_default_catalogs(get_settings().catalogs_dir)
    with progress("evaluate", total=n_boosters_for_evaluation(cfg), unit="boosters") as bar:
        report = run_evaluation(
            tables,
            config=cfg,
            progress=bar.update,
            version=record.id if record and not param else None,
        )
    if record is not None and not param:
        registry.update_metrics(record.id, {"evaluation": jsonable(report)})
        from exoguard.ml.train import evaluation_points

        registry.record_metric_points(
            record.id, evaluation_points(report), labels={"source": "evaluate"}
        )
    if as_json:
        typer.echo(_dump(report))
        return
    _print_gbm_evaluation(report)


def _evaluate_neural_kind(version: str, *, as_json: bool) -> bool:
    """Evaluate a multibranch or ensemble version; False for a gbm version (done by the caller)."""
    from exoguard.store.model_registry import settings_registry

    registry = settings_registry(get_settings())
    kind = registry.get(version).kind
    if kind == "multibranch":
        from exoguard.cli.neural import print_report, run_evaluate

        report = run_evaluate(version=version, real=True)
        if as_json:
            typer.echo(_dump(report))
        else:
            print_report(report)
        return True
    if kind == "ensemble":
        from exoguard.ml.ensemble import evaluate_version
        from exoguard.ml.multibranch.paths import DataPaths

        report = evaluate_version(
            version,
            registry=registry,
            paths=DataPaths.from_settings(get_settings()),
            log=lambda m: typer.echo(m, err=True),
        )
        typer.echo(_dump(report))
        return True
    return False


def _print_gbm_evaluation(report: dict[str, Any]) -> None:
    """The gbm evaluation's headline figures, one line per named set."""
    k = report["kepler_cv"]
    typer.echo(f"features: {', '.join(report['features'])}")
    typer.echo(
        f"koi-grouped-cv-5fold ({k['folds']} folds, grouped by star): "
        f"ROC AUC {k['roc_auc']:.4f}, PR AUC {k['pr_auc']:.4f}, "
        f"ECE {k['ece']:.4f}, Brier {k['brier']:.4f}"
    )
    for m in ("tess", "k2"):
        c = report["cross_mission"].get(m)
        if c:
            typer.echo(
                f"{c.get('eval_set', m)} (trained on Kepler only): ROC AUC {c['roc_auc']:.4f}, "
                f"PR AUC {c['pr_auc']:.4f}, ECE {c['ece']:.4f}, n={c['n']}"
            )
    typer.echo("data: " + ", ".join(d["source"] for d in report["data_files"]))


def predict(
    input_path: Annotated[Path, typer.Option("--input", help="KOI/TOI/K2 table or harmonised CSV")],
    output: Annotated[Path, typer.Option("--output", help="CSV to write.")],
    version: Annotated[
        str | None, typer.Option("--version", help="Model version (default: active).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Classify every row of a table; the output adds probability, uncertainty and label."""
    from exoguard.catalogs import read_catalog
    from exoguard.ml.service import predict_frame
    from exoguard.store.model_registry import settings_registry

    table = read_catalog(input_path)
    for issue in table.report.errors[:20]:
        typer.echo(f"warning: {issue.message}", err=True)
    pred = predict_frame(table.frame, version=version, registry=settings_registry(get_settings()))
    # the archive's own label moves to `archive_label`; `label` becomes the model's verdict
    out = table.frame.rename(columns={"label": "archive_label"})
    out["probability"] = pred["probability"].round(6)
    out["uncertainty"] = pred["uncertainty"].round(6)
    out["label"] = pred["label"]
    out["model_version"] = pred["model_version"]
    output.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(output, index=False)
    summary = {
        "input": str(input_path),
        "kind": table.kind,
        "output": str(output),
        "n_rows": len(out),
        "n_planet": int((out["label"] == "planet").sum()),
        "model_version": str(pred["model_version"].iloc[0]) if len(pred) else None,
        "validation": table.report.to_dict() | {"errors": table.report.to_dict()["errors"][:20]},
    }
    if as_json:
        typer.echo(_dump(summary))
    else:
        typer.echo(
            f"{summary['n_rows']} rows ({table.kind}) → {output}; "
            f"{summary['n_planet']} labelled planet by {summary['model_version']}",
            err=True,
        )


models_app = typer.Typer(help="List, activate and roll back model versions.", no_args_is_help=True)


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Registered model versions, newest first."""
    from exoguard.store.model_registry import settings_registry

    records = settings_registry(get_settings()).list()
    if as_json:
        typer.echo(_dump([r.to_dict() for r in records]))
        return
    if not records:
        typer.echo("no model versions; train one with `exoguard train --model gbm`")
    from exoguard.ml.evalsets import headline

    for r in records:
        name, figures = headline(r.kind, r.metrics, config=r.config)
        auc = figures.get("roc_auc")
        ece = figures.get("ece")
        shown = (
            f"{name}: ROC AUC {auc:.4f}, ECE {ece:.4f}"
            if auc is not None and ece is not None
            else f"not evaluated on {name}"
        )
        typer.echo(
            f"{'*' if r.status == 'active' else ' '} {r.id:<10} {r.status:<10} "
            f"{r.created_at or '':<25} {r.config.get('name', '')!s:<9} {shown}"
        )


@models_app.command("activate")
def models_activate(
    version: Annotated[str, typer.Argument(help="Version id, e.g. gbm-0002")],
    reason: Annotated[str, typer.Option(help="Why (kept in the version's events).")] = "manual",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Make VERSION the active model (not a retired one; its artifacts must exist)."""
    from exoguard.cli.lifecycle import run_in_session
    from exoguard.ml.service import clear_cache
    from exoguard.store.activation import promote

    run_in_session(
        lambda s, cfg: promote(s, version, settings=cfg, reason=reason).to_dict(),
        as_json=as_json,
        title="activate",
    )
    clear_cache()


@models_app.command("rollback")
def models_rollback(
    reason: Annotated[str, typer.Option(help="Why (kept in the version's events).")] = "manual",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Stop the canary, or without one return to the previously active version."""
    from exoguard.cli.lifecycle import run_in_session
    from exoguard.ml.service import clear_cache
    from exoguard.store.activation import rollback

    run_in_session(
        lambda s, cfg: rollback(s, settings=cfg, reason=reason).to_dict(),
        as_json=as_json,
        title="rollback",
    )
    clear_cache()


@models_app.command("install-bundled")
def models_install_bundled(
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="Make the ensemble active.")
    ] = True,
) -> None:
    """Register the network that ships with exoguard and its ensemble with the GBM.

    `make run` calls this after training the GBM, so the light curve counts by default.
    """
    from exoguard.ml.bundled import install_bundle
    from exoguard.ml.service import clear_cache
    from exoguard.store.model_registry import settings_registry

    install_bundle(registry=settings_registry(get_settings()), activate=activate, log=typer.echo)
    clear_cache()


@models_app.command("export-bundle")
def models_export_bundle(
    version: Annotated[str, typer.Argument(help="Ensemble version id, e.g. ensemble-0001")],
) -> None:
    """Write an ensemble's network and stacker as the bundled default model."""
    from exoguard.ml.bundled import BUNDLE_DIR, export_bundle
    from exoguard.ml.multibranch.paths import DataPaths
    from exoguard.store.model_registry import settings_registry

    export_bundle(
        version,
        registry=settings_registry(get_settings()),
        paths=DataPaths.from_settings(get_settings()),
    )
    typer.echo(f"bundle written to {BUNDLE_DIR}")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
    app.add_typer(models_app, name="models")


__all__ = ["ModelNotReadyError", "register"]
