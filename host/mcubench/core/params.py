"""The one parser of ``KEY=VALUE`` options (``--param``, ``--tags``)."""

from __future__ import annotations

import json
from typing import Any

from mcubench.core.errors import UserError


def parse_params(pairs: list[str] | None, option: str = "--param", example: str = "n=2048",
                 decode_json: bool = False) -> dict[str, Any]:
    """``["n=2048", "mode=1"]`` -> ``{"n": "2048", "mode": "1"}``; with ``decode_json`` a value
    that reads as JSON becomes that value (``0.5`` a float), else it stays a string."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UserError(f"{option} {pair!r} is not KEY=VALUE", f"e.g. {option} {example}")
        if decode_json:
            try:
                params[key] = json.loads(value)
                continue
            except json.JSONDecodeError:
                pass
        params[key] = value
    return params
