"""Readable config errors: name the offending key, say what is allowed, no traceback."""

from __future__ import annotations


def key_path(error) -> str:
    """``experiments.mlp.alphas[1]`` for a jsonschema error's location in the config."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def explain(error) -> str:
    """One line for a ``jsonschema.ValidationError`` raised while validating the config."""
    line = f"invalid config key {key_path(error)}: {error.message}"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description:
        line += f" ({description.strip()})"
    return line
