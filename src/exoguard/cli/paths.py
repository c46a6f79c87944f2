"""`exoguard evaluate --paths`: one evaluation of the paths users take (issue 12, item 6)."""

from __future__ import annotations

from typing import Any

import typer

from exoguard.jsonsafe import jsonable

_COLUMNS = ("n", "roc_auc", "ece", "flagged_share", "confident_and_wrong")


def _gbm_config(record: Any, registry: Any) -> Any:
    """The GBM config behind a version (an ensemble's GBM component; the default otherwise)."""
    from exoguard.ml.configs import GBMConfig, get_config

    if record is None:
        return get_config("default")
    if record.kind == "ensemble":
        record = registry.get(str(record.config["gbm_version"]))
    if record.kind == "gbm":
        return GBMConfig.model_validate(record.config)
    return get_config("default")


def run_paths(*, version: str | None, lightcurves: bool = True, log: Any = None) -> dict[str, Any]:
    """Paths (a)–(d) refit under grouped folds with the version's GBM config, and path (e)
    through the web preprocessing code with the version itself (default: the active one)."""
    from exoguard.catalogs import load_default_catalogs
    from exoguard.config import get_settings
    from exoguard.ml.paths import FlagRule, catalog_paths
    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.model_registry import settings_registry

    settings = get_settings()
    registry = settings_registry(get_settings())
    record = registry.get(version) if version else registry.active()
    config = _gbm_config(record, registry)
    rule = FlagRule.from_settings(settings)
    tables = load_default_catalogs(settings.catalogs_dir)
    results = catalog_paths(
        tables, config=config, rule=rule, catalogs_dir=settings.catalogs_dir, log=log
    )
    if lightcurves and record is not None:
        from exoguard.services.lightcurve_paths import lightcurve_path

        engine = make_engine(settings.database_url)
        try:
            results.extend(
                lightcurve_path(
                    make_sessionmaker(engine),
                    settings,
                    tables=tables,
                    version=record.id,
                    rule=rule,
                    log_fn=log,
                )
            )
        finally:
            engine.dispose()
    return {
        "version": record.id if record else None,
        "gbm_config": config.name,
        "flag_rule": {
            "uncertainty_threshold": rule.uncertainty_threshold,
            "ambiguous_band": list(rule.ambiguous_band or ()),
        },
        "paths": jsonable(results),
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_paths(report: dict[str, Any]) -> None:
    """One line per path: the model's figures, then the plain baseline's."""
    typer.echo(
        f"version {report['version']} (GBM config {report['gbm_config']}); flagged = "
        f"uncertainty > {report['flag_rule']['uncertainty_threshold']} or probability in "
        f"{report['flag_rule']['ambiguous_band']}"
    )
    head = f"{'path':26s} " + " ".join(
        f"{c:>10s}" for c in ("n", "ROC AUC", "ECE", "flagged", "conf&wrong")
    )
    typer.echo(head + " | baseline: ROC AUC   ECE   conf&wrong")
    for row in report["paths"]:
        base = row.get("baseline") or {}
        typer.echo(
            f"{row['path']:26s} "
            + " ".join(f"{_fmt(row.get(c)):>10s}" for c in _COLUMNS)
            + f" | {_fmt(base.get('roc_auc')):>8s} {_fmt(base.get('ece')):>6s} "
            f"{_fmt(base.get('confident_and_wrong')):>8s}"
        )
        for miss in row.get("confirmed_confident_misses") or []:
            typer.echo(f"    confident miss: {miss['match']} p={miss['probability']:.3f}")
