"""Researcher mode: data sets, model configuration and training, metrics, versions, SHAP."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from annotated_types import Ge, Gt, Le, Lt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from exoguard.store.repositories import JobRepository, ModelVersionRepository
from exoguard.web.deps import SessionDep
from exoguard.web.pages._common import PageUser, render, require_page_role

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ParamField:
    """One hyperparameter input of the training form."""

    name: str
    label: str
    kind: str  # "int" | "float" | "choice"
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    hint: str = ""

    @property
    def step(self) -> str:
        return "1" if self.kind == "int" else "any"


def _bounds(field: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for meta in field.metadata:
        if isinstance(meta, Ge):
            lo = float(meta.ge)  # type: ignore[arg-type]
        elif isinstance(meta, Gt):
            lo = float(meta.gt)  # type: ignore[arg-type]
        elif isinstance(meta, Le):
            hi = float(meta.le)  # type: ignore[arg-type]
        elif isinstance(meta, Lt):
            hi = float(meta.lt)  # type: ignore[arg-type]
    return lo, hi


#: One short line of help per hyperparameter of the training form, per model kind (the
#: same name can mean different things: LightGBM's shrinkage is not the optimiser's step).
HINTS: dict[str, dict[str, str]] = {
    "gbm": {
        "n_estimators": "Number of boosting rounds (trees); more fit finer, and slower.",
        "learning_rate": "Shrinkage of each tree's step; smaller needs more trees.",
        "num_leaves": "Leaves per tree; more leaves, more complex trees.",
        "max_depth": "Deepest level of a tree; -1 for no limit.",
        "min_child_samples": "Fewest candidates in a leaf; larger resists overfitting.",
        "subsample": "Fraction of candidates each tree sees (bagging).",
        "subsample_freq": "Redraw the subsample every this many trees; 0 turns bagging off.",
        "colsample_bytree": "Fraction of features each tree sees.",
        "reg_alpha": "L1 penalty on leaf values.",
        "reg_lambda": "L2 penalty on leaf values.",
        "min_split_gain": "Smallest gain in the loss for a split to be made.",
        "n_ensemble": "Models trained with different seeds; their spread is the uncertainty.",
        "seed": "Random seed: the same seed gives the same model.",
        "calibration": "How probabilities are calibrated: isotonic, platt or none.",
    },
    "multibranch": {
        "epochs": "Most passes over the training set.",
        "batch_size": "Examples per optimiser step.",
        "learning_rate": "Step size of the optimiser.",
        "patience": "Epochs without improvement on validation before training stops.",
    },
}


def with_hints(kind: str, fields: list[ParamField]) -> list[ParamField]:
    """The fields with their help line from `HINTS` (kind: ``gbm`` or ``multibranch``)."""
    hints = HINTS[kind]
    return [replace(f, hint=hints.get(f.name, f.hint)) for f in fields]


def fields_of(model: type[BaseModel], names: tuple[str, ...] | None = None) -> list[ParamField]:
    """Form inputs for the numeric fields of a pydantic config (bounds from its constraints)."""
    out: list[ParamField] = []
    for name, field in model.model_fields.items():
        if names is not None and name not in names:
            continue
        if field.annotation not in (int, float):
            continue
        lo, hi = _bounds(field)
        out.append(
            ParamField(
                name=name,
                label=name.replace("_", " "),
                kind="int" if field.annotation is int else "float",
                default=field.default,
                minimum=lo,
                maximum=hi,
            )
        )
    return out


def config_values(dumped: dict[str, Any], fields: list[ParamField]) -> dict[str, Any]:
    """The value of each form field in a dumped config (looked up by leaf name, any depth)."""
    found: dict[str, Any] = {}

    def walk(node: dict[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value)
            elif key not in found:
                found[key] = value

    walk(dumped)
    return {f.name: found[f.name] for f in fields if f.name in found}


def model_forms() -> dict[str, dict[str, Any]]:
    """The configurable models: their named configs and hyperparameter fields."""
    forms: dict[str, dict[str, Any]] = {}
    from exoguard.ml.configs import GBMConfig, GBMParams, config_names

    gbm_fields = fields_of(GBMParams)
    gbm_fields += fields_of(GBMConfig, ("n_ensemble", "seed"))
    gbm_fields.append(
        ParamField(
            name="calibration",
            label="calibration",
            kind="choice",
            default=GBMConfig.model_fields["calibration"].default,
            choices=("isotonic", "platt", "none"),
        )
    )
    gbm_fields = with_hints("gbm", gbm_fields)
    from exoguard.ml.configs import get_config

    forms["gbm"] = {
        "label": "Gradient-boosted trees (LightGBM, catalog features)",
        "configs": config_names(),
        "default_config": "default",
        "fields": gbm_fields,
        "config_values": {
            name: config_values(get_config(name).model_dump(), gbm_fields)
            for name in config_names()
        },
    }
    try:
        from exoguard.ml.multibranch import config_registry as mb_registry
        from exoguard.ml.multibranch import configs as mb
    except ImportError:  # the neural model is optional in an installation
        return forms
    mb_fields = with_hints(
        "multibranch",
        fields_of(mb.TrainingConfig, ("epochs", "batch_size", "learning_rate", "patience")),
    )
    forms["multibranch"] = {
        "label": "Multi-branch neural network (light curves + features)",
        "configs": mb_registry.config_names(),
        "default_config": mb_registry.DEFAULT_CONFIG,
        "fields": mb_fields,
        "config_values": {
            name: config_values(mb_registry.get_config(name).model_dump(), mb_fields)
            for name in mb_registry.config_names()
        },
    }
    return forms


@router.get("/research", response_class=HTMLResponse)
def research_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    version: str | None = None,
    set: str | None = None,  # noqa: A002 - the query parameter's public name
) -> Response:
    """Everything a researcher configures and reads about the models.

    ``set`` shows every version's figures on that named evaluation set (each version's
    primary set by default)."""
    denied = require_page_role(request, user, "researcher")
    if denied is not None:
        return denied
    assert user is not None
    from exoguard.ml.evalsets import EVAL_SETS
    from exoguard.services.datasets import list_datasets

    if set is not None and set not in EVAL_SETS:
        from exoguard.errors import ValidationError

        raise ValidationError(f"unknown evaluation set {set!r}; allowed: {', '.join(EVAL_SETS)}")

    versions = ModelVersionRepository(session).list()
    active = next((v for v in versions if v.status == "active"), None)
    shown = (
        next((v for v in versions if v.id == version), None)
        or active
        or (versions[0] if versions else None)
    )
    charts_url = None
    if shown is not None:
        query = f"?{urlencode({'set': set})}" if set else ""
        charts_url = f"/charts/models/{quote(str(shown.id), safe='')}{query}"
    return render(
        request,
        "research.html",
        user=user,
        page_id="research",
        charts_url=charts_url,
        datasets=list_datasets(session, user, limit=20),
        versions=versions,
        active=active,
        shown=shown,
        forms=model_forms(),
        jobs=JobRepository(session).list(limit=8),
        eval_sets=EVAL_SETS,
        chosen_set=set,
    )
