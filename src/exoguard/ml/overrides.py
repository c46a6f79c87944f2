"""``NAME=VALUE`` overrides of a named config (``--param`` on the command line, the web form).

One parser for every model kind, so ``--param`` means the same for the GBM and the network.
"""

from __future__ import annotations

import json
from typing import Any

from exoguard.errors import ConfigError


def parse_value(text: str) -> Any:
    """The typed value of an override's right-hand side.

    ``true``/``false`` → bool, ``none``/``null`` → None, JSON objects and arrays as JSON,
    integers, then floats; ``a,b`` → a list of values each parsed the same way
    (``0.5,20`` → ``[0.5, 20]``, ``x,y`` → ``["x", "y"]``); anything else the stripped text.
    """
    raw = text.strip()
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if raw.startswith(("{", "[")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            pass
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    if "," in raw:
        return [parse_value(t) for t in raw.split(",") if t.strip()]
    return raw


def split_override(item: str) -> tuple[str, Any]:
    """``"NAME=VALUE"`` → ``(name, parsed value)``; :class:`ConfigError` without ``=``."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like NAME=VALUE")
    key, raw = item.split("=", 1)
    return key.strip(), parse_value(raw)


__all__ = ["parse_value", "split_override"]
