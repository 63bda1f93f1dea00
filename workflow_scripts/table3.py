"""Rule table3: residual-only probes against random-init baselines, from the probe summaries."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job
from featspan.summary import read_table
from featspan.tables import write_table3

start_job(snakemake)  # noqa: F821
tables = {e: read_table(p) for e, p in zip(snakemake.params.experiments, snakemake.input)}  # noqa: F821
write_table3(tables, snakemake.output[0], snakemake.output[1])  # noqa: F821
