"""Rule probe: feature performance (linear probes) of the feature sets of one cohort."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.io import write_json
from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.analysis import probe_cohort  # noqa: E402

inputs, cfg = snakemake.input, snakemake.params.probe  # noqa: F821
result = probe_cohort(inputs.features, cfg, base_dir=inputs.get("base"), residual_dir=inputs.get("residuals"),
                      residual_m_choices=cfg["residual_m_choices"])
result["state"] = snakemake.wildcards.state  # noqa: F821
for r in result["records"]:
    print(r["features"], r["n_features"], r["accuracy"], r["C"])
write_json(result, snakemake.output[0])  # noqa: F821
