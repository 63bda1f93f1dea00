"""Rule table2: accuracies of single models and the M values, from every cohort's checkpoints folder."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job
from featspan.tables import write_table2

start_job(snakemake)  # noqa: F821
write_table2(list(snakemake.input), snakemake.output[0], snakemake.output[1])  # noqa: F821
