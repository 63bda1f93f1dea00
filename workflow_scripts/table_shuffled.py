"""Rules table4 and table5: regular vs shuffled forward FSE of one vision architecture (Appendix D.4)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job
from featspan.tables import write_shuffled_table

start_job(snakemake)  # noqa: F821
results = [json.loads(Path(p).read_text()) for p in snakemake.input]  # noqa: F821
write_shuffled_table(snakemake.params.table, results, snakemake.output[0], snakemake.output[1])  # noqa: F821
