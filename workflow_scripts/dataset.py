"""Rule dataset: build the experiment's dataset once and store it as HDF5."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.data import load_dataset
from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821
options = dict(snakemake.params.dataset)  # noqa: F821
data = load_dataset(options.pop("name"), cache_dir=snakemake.params.cache_dir, **options)  # noqa: F821
print(f"{data.name}: train {data.x_train.shape}, test {data.x_test.shape}, {data.n_classes} classes")
data.save(snakemake.output[0])  # noqa: F821
