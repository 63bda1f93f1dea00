"""Rule train: train one cohort (experiment, alpha, replicate); save every model's trained and
random-init checkpoints and the cohort manifest into the output folder."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.workflow import train_cohort_job  # noqa: E402

train_cohort_job(
    dataset_path=snakemake.input.dataset,  # noqa: F821
    out_dir=snakemake.output[0],  # noqa: F821
    resume_path=snakemake.params.resume,  # noqa: F821
    tuning_path=snakemake.input.get("tuning"),  # noqa: F821
    **snakemake.params.job,  # noqa: F821
)
