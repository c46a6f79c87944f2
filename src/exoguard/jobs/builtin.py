"""Built-in job kinds: model training, dataset preprocessing, batch prediction."""

from __future__ import annotations

from typing import Any

from exoguard.jobs.tasks import JobContext, task


@task("echo")
def echo(ctx: JobContext) -> dict[str, Any]:
    """A trivial job used by the health checks of worker deployments."""
    ctx.progress(1.0, "done")
    return {"echo": ctx.params}
