"""Rule features: extract the features of every model of a cohort, trained and at init, to HDF5."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.workflow import features_job  # noqa: E402

for state in ("trained", "init"):  # one job for both states: the dataset and torch load once
    features_job(
        dataset_path=snakemake.input.dataset,  # noqa: F821
        checkpoint_dir=snakemake.input.checkpoints,  # noqa: F821
        out_dir=snakemake.output[state],  # noqa: F821
        state=state,
        **snakemake.params.job,  # noqa: F821
    )
