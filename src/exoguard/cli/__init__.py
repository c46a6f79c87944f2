"""The `exoguard` command line. Each module in this package adds its commands via `register`.

Commands print machine-readable JSON on stdout with `--json`; progress bars and logs go to
stderr so that stdout stays clean.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

from exoguard.cli.progress import install_repeat_filter
from exoguard.errors import ExoguardError

app = typer.Typer(
    name="exoguard",
    help="Find and vet transiting exoplanets in Kepler, K2 and TESS data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    """Entry point of the console script: domain errors become one clear line and exit code 2."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    install_repeat_filter(handler)
    try:
        app()
    except ExoguardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc
