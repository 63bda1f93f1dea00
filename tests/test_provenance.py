"""The source digest that marks checkpoints stale covers every featspan module the model stack imports."""
import subprocess
import sys
from pathlib import Path

from featspan.provenance import DATA_CODE, MODEL_CODE, TOY_CODE, source_digest

ROOT = Path(__file__).resolve().parents[1]


def _covered(module: str, parts) -> bool:
    rel = module.split(".", 1)[1].replace(".", "/") if "." in module else ""
    return any(rel == p.removesuffix(".py") or rel.startswith(p + "/") or rel == p for p in parts)


def test_model_code_lists_every_module_a_training_job_imports():
    code = ("import sys, torch; import featspan.checkpoints, featspan.features, featspan.tune; "
            "from featspan.models import build_from_config; from featspan.data import load_dataset; "
            "[build_from_config({'arch': a}, 1.0, s, 3) for a, s in "
            "(('mlp', (40,)), ('resnet18', (1, 8, 8)), ('vgg16', (1, 8, 8)), ('transformer', (5, 4)))]; "
            "print(' '.join(m for m in sys.modules if m.startswith('featspan.')))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    modules = run.stdout.split()
    assert "featspan.models.resnet" in modules
    assert [m for m in modules if not _covered(m, MODEL_CODE)] == []
    assert _covered("featspan.data.cifar10", DATA_CODE) and not _covered("featspan.span", MODEL_CODE)


def test_toy_code_lists_every_module_a_toy_job_imports():
    code = ("import sys; from featspan.toy import ToyConfig, train_toy; "
            "train_toy(ToyConfig.from_dict({'epochs': 1, 'n_train': 50, 'n_test': 20, 'batch_size': 25}), 10, 2, 0); "
            "print(' '.join(m for m in sys.modules if m.startswith('featspan.')))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    modules = run.stdout.split()
    assert "featspan.probe" in modules  # the probe on the concatenation ran
    assert [m for m in modules if not _covered(m, TOY_CODE)] == []


def test_source_digest_follows_content_not_timestamps(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.py").write_text("x = 1\n")
    (tmp_path / "train.py").write_text("y = 2\n")
    first = source_digest(("models", "train.py"), tmp_path)
    (tmp_path / "train.py").touch()
    assert source_digest(("models", "train.py"), tmp_path) == first
    (tmp_path / "models" / "a.py").write_text("x = 3\n")
    assert source_digest(("models", "train.py"), tmp_path) != first
