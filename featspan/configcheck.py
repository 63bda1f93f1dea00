"""Readable config errors: name the offending key, say what is allowed, no traceback."""

from __future__ import annotations

from pathlib import Path


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


class ConfigError(ValueError):
    """A config that cannot run; the message is one line naming the key (or the file)."""


def _strict_loader():
    """A YAML SafeLoader that refuses a mapping key written twice (YAML's last-wins would hide it);
    ``<<`` merge keys are not duplicates."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"the key {key!r} is written twice in one mapping (lines {seen[key] + 1} and "
                                  f"{key_node.start_mark.line + 1}); YAML would silently keep the last")
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping(node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


def read_config_file(path) -> dict:
    """A config file as a mapping, or a ConfigError naming the file: unreadable or invalid YAML, a key
    written twice, or a document that is not a mapping (a list, an empty file)."""
    import yaml

    try:
        text = open(path).read()
        config = yaml.load(text, Loader=_strict_loader())
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config ({err.strerror})") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line} ({problem})") from None
    if not isinstance(config, dict):
        kind = "empty" if config is None else f"a {type(config).__name__}"
        raise ConfigError(f"{path}: the config is {kind}; it must be a mapping with an experiments key")
    return config


def check_config(config: dict, schema_path) -> None:
    """The workflow's own check (the schema, its defaults filled in, then :func:`semantic_errors`), as
    a ConfigError naming the key; ``featspan estimate`` and the Snakefile both call it."""
    from snakemake.utils import validate

    try:
        validate(config, str(schema_path))
    except Exception as err:  # snakemake wraps jsonschema's error in a WorkflowError
        cause = err.__context__
        raise ConfigError(explain(cause) if hasattr(cause, "absolute_path") else str(err)) from None
    for error in semantic_errors(config):
        raise ConfigError(error)


def semantic_errors(config: dict) -> list[str]:
    """What the schema cannot say: settings that validate but cannot run, each naming its key."""
    from .models.scaling import alpha_token, scale_width, smallest_widths

    errors = []
    if not config.get("experiments") and not config.get("toy"):
        errors.append("invalid config key experiments: none, and no toy section either; this config runs nothing")
    for name, exp in config.get("experiments", {}).items():
        model = exp["model"]
        widths = smallest_widths(model)
        tokens = {}
        for i, alpha in enumerate(exp["alphas"]):
            # files are named by the token: two alphas with one token would be one cohort counted twice
            token = alpha_token(alpha)
            if token == "1" and alpha != 1:
                errors.append(f"invalid config key experiments.{name}.alphas[{i}]: alpha = {alpha!r} would be "
                              "stored as alpha = 1 (the base models); write 1, or an alpha further from it")
            elif token in tokens:
                errors.append(f"invalid config key experiments.{name}.alphas[{i}]: alpha = {alpha!r} is the same "
                              f"cohort as alphas[{tokens[token]}] = {exp['alphas'][tokens[token]]!r} (both become "
                              f"{token.replace('_', '/')}); list each alpha once")
            tokens.setdefault(token, i)
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
        errors += _data_errors(name, exp["dataset"], config.get("cache_dir", "results/cache"))
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


def _data_errors(name: str, dataset: dict, cache_dir: str) -> list[str]:
    """Local data that is missing while nothing may download it: said now, not in the dataset job."""
    import os

    key = f"experiments.{name}.dataset"
    if dataset["name"] == "cifar10" and not dataset.get("download", True):
        root = dataset.get("root", os.path.join(cache_dir, "cifar10"))
        if not os.path.isdir(os.path.join(os.path.expanduser(root), "cifar-10-batches-py")):
            return [f"invalid config key {key}.root: {root} holds no cifar-10-batches-py and download is false "
                    "(unpack cifar-10-python.tar.gz there, or set download: true on a machine with internet)"]
    if dataset["name"] == "mnli":
        for split, path in dataset.get("data_files", {}).items():
            if not os.path.isfile(os.path.expanduser(path)):
                return [f"invalid config key {key}.data_files.{split}: no file {path}"]
    if dataset["name"] == "fashion_mnist" and not dataset.get("download", False):
        from .data.fashion_mnist import DEBIAN_FOLDER, find_files

        root = dataset.get("root", os.path.join(cache_dir, "fashion_mnist"))
        folder = os.path.join(os.path.expanduser(root), "FashionMNIST", "raw")
        if find_files(Path(folder)) is None and find_files(DEBIAN_FOLDER) is None:
            return [f"invalid config key {key}.root: neither {folder} nor {DEBIAN_FOLDER} holds Fashion-MNIST and "
                    "download is false (apt-get install dataset-fashion-mnist, put the idx files in "
                    f"{folder}, or set download: true on a machine with internet)"]
    return []
