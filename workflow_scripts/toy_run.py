"""Rule toy_run: train one toy cohort (M models of first-layer width m, one seed) and record it."""
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.io import write_json
from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.toy import ToyConfig, train_toy  # noqa: E402

p = snakemake.params  # noqa: F821
run = train_toy(ToyConfig.from_dict(p.toy), int(p.width), int(p.n_models), int(p.seed), log=print)
add, mul = run.fractions(run.config["n_add"])
print(f"m={run.width} M={run.n_models} seed={run.seed}: addition learned {add:.2f}, multiplication learned {mul:.2f}, "
      f"train acc {run.train_accuracy:.3f}, test acc {run.test_accuracy:.3f}, probe test {run.probe_test_accuracy}")
write_json(asdict(run), snakemake.output[0])  # noqa: F821
