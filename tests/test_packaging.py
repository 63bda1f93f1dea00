"""pyproject.toml and envs/*.yaml name the same packages with the same bounds; every rule has an env."""
import json
import os
import re
import tomllib
from pathlib import Path

import pytest
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


IMPORT_NAMES = {"pytorch": "torch", "scikit-learn": "sklearn", "pyyaml": "yaml"}  # conda name -> import name


def _imports(nodes) -> set[tuple[int, str]]:
    """(level, dotted name) of the import statements among ``nodes`` (not inside nested functions)."""
    import ast

    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {(0, a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out |= {(node.level, f"{node.module}.{a.name}" if node.module else a.name) for a in node.names}
    return out


def _third_party_imports(function_name: str) -> set[str]:
    """Top-level third-party packages a job function of featspan/jobs.py imports: its own imports, then
    for each featspan name it imports, that module's module-level imports and, when the name is a
    function, the imports in its body (lazy imports there run when the job calls it), transitively."""
    import ast
    import sys

    def module_file(dotted):
        path = ROOT.joinpath(*dotted.split("."))
        if path.with_suffix(".py").is_file():
            return path.with_suffix(".py"), dotted.rsplit(".", 1)[0]
        if (path / "__init__.py").is_file():
            return path / "__init__.py", dotted
        return None

    jobs = ast.parse((ROOT / "featspan" / "jobs.py").read_text())
    function = next(n for n in jobs.body if isinstance(n, ast.FunctionDef) and n.name == function_name)
    found, seen = set(), set()
    queue = [("featspan", _imports(ast.walk(function)))]
    while queue:
        package, imports = queue.pop()
        for level, name in imports:
            if level:
                base = package.split(".")
                name = ".".join(base[:len(base) - level + 1] + [name])
            if name.split(".")[0] != "featspan":
                if name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}:
                    found.add(name.split(".")[0])
                continue
            if name in seen:
                continue
            seen.add(name)
            target = module_file(name)
            attribute = None
            if target is None:  # featspan.module.function
                name, attribute = name.rsplit(".", 1)
                target = module_file(name)
            path, pkg = target
            tree = ast.parse(path.read_text())
            queue.append((pkg, _imports(tree.body)))
            body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == attribute]
            if body:
                queue.append((pkg, _imports(ast.walk(body[0]))))
    return found


def test_each_rules_env_has_every_package_its_job_imports():
    import ast

    jobs = ast.parse((ROOT / "featspan" / "jobs.py").read_text())
    table = next(n for n in jobs.body if isinstance(n, ast.Assign) and n.targets[0].id == "JOBS")
    job_of = {k.value: v.id for k, v in zip(table.value.keys, table.value.values) if isinstance(k, ast.Constant)}
    job_of.update({"fig": "figure", "table4": "table_shuffled"})
    checked = 0
    for smk in (ROOT / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=\s*rule\b)", smk.read_text()):
            if "script:" not in block:
                continue
            name = re.match(r"\s*rule\s*(\w*)", block).group(1) or "fig"  # unnamed: the per-figure loop
            env = re.search(r"conda:\s*\n\s*\"\.\./(envs/\w+\.yaml)\"", block).group(1)
            installs = {IMPORT_NAMES.get(p, p) for p in _env(ROOT / env)}
            if name not in job_of:
                name = "table4" if "SHUFFLED" in block or "_arch" in block else name
            missing = _third_party_imports(job_of[name]) - installs
            assert not missing, f"{smk.name}: rule {name}'s env {env} lacks {sorted(missing)}"
            checked += 1
    assert checked >= 15


@pytest.mark.slow
def test_a_built_wheel_runs_the_command_line_outside_the_repository(tmp_path):
    """A non-editable install (a wheel) ships the config schema: `featspan fse` runs from another folder."""
    import subprocess
    import sys

    import numpy as np

    from featspan.h5 import write_feature_file

    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("featspan-*.whl")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                              str(tmp_path / "site"), str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    assert (tmp_path / "site" / "featspan" / "schemas" / "config.schema.yaml").is_file()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (np.arange(120) % 3).astype(np.int64)
    for name, data in (("a", x), ("b", x @ rng.normal(size=(5, 3)).astype(np.float32))):
        write_feature_file(tmp_path / f"{name}.h5", {"train": (data[:100], y[:100]), "test": (data[100:], y[100:])},
                           {"state": "trained"})
    code = ("import sys, featspan.schema as s; from featspan.cli import main; "
            "assert str(s.SCHEMA).startswith(sys.argv[1]), s.SCHEMA; sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site"), "fse", "--regressors", "a.h5",
                          "--targets", "b.h5", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    fse = json.loads(run.stdout)["fse"]
    assert fse["validation"] < 0.01, fse  # b is a linear map of a
