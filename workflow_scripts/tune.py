"""Rule tune: grid learning rate x weight decay for one seed of (experiment, alpha) on a validation
split carved from the training split; write the grid and the winner as JSON."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.io import write_json
from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.tune import tune_job  # noqa: E402

result = tune_job(snakemake.input.dataset, **snakemake.params.job)  # noqa: F821
print(f"winner: {result['best']}")
write_json(result, snakemake.output[0])  # noqa: F821
