"""Rule summarize: gather an experiment's span or probe results into one CSV table."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.summary import summarize  # noqa: E402

summarize(list(snakemake.input), snakemake.output[0])  # noqa: F821
