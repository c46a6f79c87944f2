"""`exoguard vetting ...`: the vetting loop from the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from exoguard.jsonsafe import jsonable

vetting_app = typer.Typer(
    name="vetting",
    help="Human-in-the-loop vetting: queue, reputation, aggregation, simulation.",
    no_args_is_help=True,
)


@vetting_app.command("simulate")
def simulate_cmd(
    vetters: Annotated[int, typer.Option("--vetters", "-k", min=1, help="Simulated vetters.")],
    items: Annotated[int, typer.Option("--items", "-n", min=1, help="Items to vet.")],
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: EXOGUARD_SEED).")
    ] = None,
    gold_rate: Annotated[
        float, typer.Option("--gold-rate", min=0.0, max=1.0, help="Share of gold items served.")
    ] = 0.10,
    min_votes: Annotated[
        int | None,
        typer.Option("--min-votes", min=1, help="Votes needed (default: EXOGUARD_VET_MIN_VOTES)."),
    ] = None,
    max_votes: Annotated[
        int, typer.Option("--max-votes", min=1, help="Votes after which an item stops.")
    ] = 7,
    loop_method: Annotated[
        str | None,
        typer.Option(
            "--loop-method",
            help="Aggregation settling items during the loop: majority, weighted or "
            "dawid_skene (default: EXOGUARD_AGGREGATION).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the vetting loop against simulated vetters of known reliability and score it."""
    import numpy as np

    from exoguard.config import get_settings
    from exoguard.vetting.models import AGGREGATION_METHODS
    from exoguard.vetting.simulate import simulate

    settings = get_settings()
    seed_value = settings.seed if seed is None else seed
    method = loop_method or settings.aggregation
    if method not in AGGREGATION_METHODS:
        raise typer.BadParameter(
            f"must be one of {AGGREGATION_METHODS}, got {method!r}", param_hint="--loop-method"
        )
    min_v = settings.vetting_min_votes if min_votes is None else min_votes
    report = simulate(
        n_vetters=vetters,
        n_items=items,
        rng=np.random.default_rng(seed_value),
        gold_rate=gold_rate,
        min_votes=min_v,
        max_votes_per_item=max(max_votes, min_v),
        loop_method=method,  # type: ignore[arg-type]  # checked against AGGREGATION_METHODS
        seed=seed_value,
    )
    data = jsonable(report.to_dict())
    if as_json:
        typer.echo(json.dumps(data))
        return
    typer.echo(
        f"{vetters} vetters, {items} items, seed {seed_value}: {report.n_votes} votes "
        f"({report.votes_per_item:.2f} per item), {report.rounds} rounds, loop method {method}"
    )
    typer.echo(f"{'method':<12} {'accuracy':>9} {'consensus':>10} {'cons.acc':>9}")
    for name in ("majority", "weighted", "dawid_skene"):
        s = data[name]
        cacc = "-" if s["consensus_accuracy"] is None else f"{s['consensus_accuracy']:.3f}"
        typer.echo(f"{name:<12} {s['accuracy']:>9.3f} {s['consensus_rate']:>10.3f} {cacc:>9}")
    typer.echo(
        f"Dawid-Skene vetter accuracy: MAE {report.reliability_mae:.3f}, "
        f"max error {report.max_reliability_error:.3f}; reputation MAE {report.reputation_mae:.3f}"
    )


def register(app: typer.Typer) -> None:
    """Add the `vetting` sub-command group."""
    app.add_typer(vetting_app, name="vetting")
