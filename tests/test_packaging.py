"""pyproject.toml and envs/*.yaml name the same packages with the same bounds; every rule has an env."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}          # conda-forge name -> PyPI name
WORKFLOW_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}  # run the workflow, not its jobs


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return CONDA_NAMES.get(name.lower(), name.lower()), spec.replace(" ", "")


def _pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(_split(d) for d in deps)


def _env(path):
    out = {}
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        for item in (dep["pip"] if isinstance(dep, dict) else [dep]):
            name, spec = _split(item)
            if name not in ("python", "pip"):
                out[name] = spec
    return out


def test_envs_match_pyproject():
    project = _pyproject()
    envs = {p.name: _env(p) for p in sorted((ROOT / "envs").glob("*.yaml"))}
    assert envs, "no conda environments"
    for name, packages in envs.items():
        for package, spec in packages.items():
            assert package in project, f"{name}: {package} is not declared in pyproject.toml"
            assert spec == project[package], f"{name}: {package}{spec} but pyproject.toml says {project[package]}"
    covered = set().union(*envs.values())
    assert set(project) - WORKFLOW_ONLY == covered, "pyproject.toml declares packages no env installs"


def test_every_rule_names_log_benchmark_resources_and_conda():
    """Every rule that runs a job has them all, except that a cacheable rule has no benchmark (Snakemake
    refuses both): train and features, each defined once. A target the config cannot make (an input
    function that says what it needs, no job) has none of them."""
    cached, names = set(), []
    for smk in (ROOT / "rules").glob("*.smk"):
        text = smk.read_text()
        for block in re.split(r"\n(?=\s*rule\b)", text):
            if not re.match(r"\s*rule\b", block) or "script:" not in block:
                continue
            name = re.match(r"\s*rule\s*(\w*)", block).group(1)
            names.append(name)
            if "cache: True" in block:
                assert "benchmark:" not in block
                cached.add(name)
            else:
                assert "benchmark:" in block, f"{smk.name}: a rule lacks benchmark:\n{block[:200]}"
            for directive in ("log:", "resources:", "conda:", "mem_mb=", "runtime=", "workflow_scripts/job.py"):
                assert directive in block, f"{smk.name}: a rule lacks {directive}\n{block[:200]}"
    assert cached == {"train", "features"}
    assert names.count("train") == names.count("features") == 1


def _module_imports() -> dict[str, set[str]]:
    """featspan's module-level imports of featspan modules (with the packages they pass through)."""
    import ast

    package = ROOT / "featspan"
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.parse(path.read_text()).body:  # module level only: imports inside functions are lazy
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in names else module for a in node.names]
            for target in targets:  # the module and the packages it passes through, but not this module's own
                parts = target.split(".")                              # parents: they are being imported already
                edges |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)
                          if ".".join(parts[:i]) in names and not name.startswith(".".join(parts[:i]) + ".")}
        graph[name] = edges - {name}
    return graph


def test_the_library_has_no_import_circle():
    graph = _module_imports()
    assert "featspan.span.ridge" in graph["featspan.span"]
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError(" -> ".join(trail + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
