"""A cohort's checkpoints: train every model of (experiment, alpha, replicate) and write its trained and
random-init checkpoints, accuracies and manifest; read a checkpoint back (docs/method.md section 3)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .cohort import Cohort
from .data import Dataset
from .provenance import config_hash
from .models import build_from_config, count_params, scaled_family
from .train import CohortSpec, TrainConfig, accuracy, save_atomic, train_cohort


def write_cohort_checkpoints(dataset_path, out_dir, resume_path, *, experiment: str, alpha: float, replicate: int,
                     model: dict, train: dict, tuning_path=None) -> Cohort:
    """Train the cohort of (experiment, alpha, replicate) and write its checkpoints and manifest.
    With ``tuning_path`` (the tune rule's JSON) its winning learning rate and weight decay are used."""
    data = Dataset.load(dataset_path)
    if tuning_path:
        best = json.loads(Path(tuning_path).read_text())["best"]
        print(f"tuned hyperparameters from {tuning_path}: {best}")
        train = {**train, **best}
    options = {k: v for k, v in model.items() if k != "arch"}
    family = scaled_family(model["arch"], alpha, data.in_shape, data.n_classes, **options)
    n_params_base = family.n_params_base
    train = dict(train)
    data_order = train.pop("data_order", "own")
    cohort = Cohort.plan(experiment, model["arch"], alpha, replicate, family, data_order)
    cfg = TrainConfig.from_dict({**train, "device": "cuda" if torch.cuda.is_available() else "cpu"})
    print(f"cohort {experiment} alpha={alpha} replicate={replicate}: {len(cohort.seeds)} models "
          f"(M_feat={cohort.m_feat}, M_param={cohort.m_param}, params {cohort.n_params} vs base {n_params_base}), "
          f"mode={cfg.mode}, data order {data_order}, device={cfg.device}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    provenance = {"experiment": experiment, "arch": model["arch"], "alpha": float(alpha), "model": model,
                  "in_shape": list(data.in_shape), "n_classes": data.n_classes,
                  "replicate": replicate, "data_order": data_order,
                  "config_hash": config_hash(model, train, alpha, replicate, data_order)}

    def save(models, state):
        for i, m in enumerate(models):
            suffix = ".pt" if state == "trained" else "_init.pt"
            save_atomic({**provenance, "index": i, "seed": cohort.seeds[i], "data_seed": cohort.data_seeds[i],
                         "state": state, "n_params": count_params(m), "state_dict": m.state_dict()},
                        out / cohort.filename(i, suffix))

    spec = CohortSpec(lambda: build_from_config(model, alpha, data.in_shape, data.n_classes), cohort.seeds,
                      cohort.data_seeds, fingerprint=config_hash(model, alpha, data.in_shape, data.n_classes))
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    Path(resume_path).parent.mkdir(parents=True, exist_ok=True)
    models = train_cohort(spec, x, y, cfg, resume_path=resume_path, on_init=lambda ms: save(ms, "init"))
    save(models, "trained")
    xt, yt = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    accs = [(accuracy(m, x, y), accuracy(m, xt, yt)) for m in models]
    for i, (a_train, a_test) in enumerate(accs):
        print(f"model {i}: train accuracy {a_train:.4f}, test accuracy {a_test:.4f}")
    cohort.save(out)
    (out / "accuracy.tsv").write_text("model\ttrain\ttest\n" + "".join(
        f"{i}\t{a:.6f}\t{b:.6f}\n" for i, (a, b) in enumerate(accs)))
    resume = Path(resume_path)
    # training finished: the resumable snapshots are obsolete, and so is a temp file a kill left mid-write
    # (featspan.io.atomic_path writes .<name>.tmp-<pid>)
    for leftover in [*resume.parent.glob(resume.name + "*"), *resume.parent.glob(f".{resume.name}.tmp-*")]:
        leftover.unlink()
    return cohort


class ArtifactUnreadable(RuntimeError):
    """An artifact of an earlier job is missing or corrupt; the message says how to rebuild it."""


def load_checkpoint(path) -> dict:
    """A checkpoint written by the train rule, or an error naming the file and how to rebuild it."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
            raise ValueError("no state_dict inside")
    except Exception as err:
        raise ArtifactUnreadable(
            f"{path}: unreadable checkpoint ({type(err).__name__}: {err}). Rebuild it: delete the folder "
            f"{Path(path).parent} and run snakemake again (or add --forcerun train)") from None
    return ckpt
