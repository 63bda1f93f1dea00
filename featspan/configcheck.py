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


def semantic_errors(config: dict) -> list[str]:
    """What the schema cannot say: settings that validate but cannot run, each naming its key."""
    from .models.scaling import scale_width, smallest_widths

    errors = []
    for name, exp in config.get("experiments", {}).items():
        model = exp["model"]
        widths = smallest_widths(model)
        for i, alpha in enumerate(exp["alphas"]):
            for width in widths:
                if round(width * alpha) < 1:
                    errors.append(f"invalid config key experiments.{name}.alphas[{i}]: alpha = {alpha:g} scales the "
                                  f"width {width} of this {model['arch']} to {width * alpha:.3g} units, below one "
                                  f"(the smallest alpha this model allows is about {0.5 / width:.3g})")
            if model["arch"] == "transformer" and scale_width(model["hidden"], alpha) % model["n_heads"]:
                errors.append(f"invalid config key experiments.{name}.alphas[{i}]: alpha = {alpha:g} makes the hidden "
                              f"width {scale_width(model['hidden'], alpha)}, not divisible by model.n_heads = "
                              f"{model['n_heads']}")
    grid = config.get("span", {}).get("lambdas", {})
    if grid and grid["min"] > grid["max"]:
        errors.append(f"invalid config key span.lambdas: min = {grid['min']:g} is above max = {grid['max']:g}")
    toy = config.get("toy")
    if toy:
        for width in toy["widths"]:
            if toy["total_width"] % width:
                errors.append(f"invalid config key toy.widths: {width} does not divide toy.total_width = "
                              f"{toy['total_width']} (each concatenation keeps m x M = total_width)")
    return errors
