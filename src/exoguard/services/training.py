"""Model training as a background job: validate the request now, train in the job."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from exoguard.catalogs import load_default_catalogs
from exoguard.config import Settings
from exoguard.errors import ConfigError, ValidationError
from exoguard.ml import configs as gbm_configs
from exoguard.ml.train import n_boosters_to_train, train_gbm
from exoguard.store.model_registry import open_registry

log = logging.getLogger(__name__)

#: Models the API can train.
TRAINABLE_MODELS = ("gbm", "multibranch")
ProgressFn = Callable[[float, str | None], None]


def _overrides(params: Mapping[str, Any]) -> list[str]:
    out = []
    for key, value in params.items():
        if key == "config":
            continue
        if isinstance(value, list | tuple):
            text = ",".join(str(v) for v in value)
        elif value is None:
            text = "none"
        else:
            text = str(value)
        out.append(f"{key}={text}")
    return out


def gbm_config(params: Mapping[str, Any]) -> Any:
    """The GBM config named by ``params["config"]`` (default ``"default"``) with overrides.

    Raises `ValidationError` naming the known parameters when a name or value is not allowed.
    """
    name = str(params.get("config") or "default")
    try:
        return gbm_configs.apply_overrides(gbm_configs.get_config(name), _overrides(params))
    except ConfigError as exc:
        raise ValidationError(str(exc)) from exc


def multibranch_config(params: Mapping[str, Any]) -> Any:
    """The multi-branch config named by ``params["config"]`` with overrides."""
    try:  # lazy: the multibranch package imports torch (seconds), and may be missing
        from exoguard.ml.multibranch.config_registry import (
            DEFAULT_CONFIG,
            apply_overrides,
            get_config,
        )
    except ImportError as exc:
        raise ValidationError(
            "the multibranch model is not available in this installation; "
            f"trainable models: gbm ({exc})"
        ) from exc
    name = str(params.get("config") or DEFAULT_CONFIG)
    try:
        return apply_overrides(get_config(name), _overrides(params))
    except ConfigError as exc:
        raise ValidationError(str(exc)) from exc


def check_request(model: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a training request before a job is queued; returns the job params."""
    if model not in TRAINABLE_MODELS:
        raise ValidationError(f"model must be one of {', '.join(TRAINABLE_MODELS)}; got {model!r}")
    if not isinstance(params, Mapping):
        raise ValidationError("params must be an object of NAME: VALUE")
    if model == "gbm":
        gbm_config(params)
    else:
        multibranch_config(params)
    return {"model": model, "params": dict(params)}


def train(
    settings: Settings, *, model: str, params: Mapping[str, Any], progress: ProgressFn
) -> dict[str, Any]:
    """Train and register a model version (the body of the ``train`` job)."""
    registry = open_registry(database_url=settings.database_url, models_path=settings.models_path)
    if model == "gbm":
        config = gbm_config(params)
        # training, then the named evaluation sets (exoguard.ml.evalsets), as every route does
        total = max(1, n_boosters_to_train(config))
        progress(0.02, "reading the catalogs")
        tables = load_default_catalogs(settings.catalogs_dir)

        done = [0]

        def on_booster(n: int) -> None:
            done[0] += n
            progress(
                0.05 + 0.9 * min(done[0] / total, 1.0), f"fitted {done[0]} of {total} boosters"
            )

        record = train_gbm(
            config,
            catalogs_dir=settings.catalogs_dir,
            tables=tables,
            eval_tables=tables,
            registry=registry,
            progress=on_booster,
        )
    else:
        # lazy: torch (seconds to import) only when a network is trained
        from exoguard.ml.multibranch.paths import DataPaths
        from exoguard.ml.multibranch.train import train_multibranch

        config = multibranch_config(params)
        members = config.uncertainty.n_members if config.uncertainty.method == "ensemble" else 1
        total_epochs = max(1, config.training.epochs * members)
        epochs_done = [0]

        def on_epoch(log: Any) -> None:
            epochs_done[0] += 1
            progress(
                0.3 + 0.65 * min(epochs_done[0] / total_epochs, 1.0),
                f"member {log.member} epoch {log.epoch}: train loss {log.train_loss:.4f}, "
                f"validation loss {log.val_loss:.4f}",
            )

        progress(0.02, "building the training set (real and injected light curves)")
        _, _, record = train_multibranch(
            config,
            paths=DataPaths.from_settings(settings),
            registry=registry,
            on_epoch=on_epoch,
        )
    progress(1.0, f"registered {record.id}")
    return {"version": record.id, "kind": record.kind, "metrics": record.metrics}
