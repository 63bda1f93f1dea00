"""Rule span: FSE and FSG of one narrow cohort against its replicate's base cohort."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job, write_json

start_job(snakemake)  # noqa: F821

from featspan.analysis import span_cohort  # noqa: E402

result = span_cohort(snakemake.input.base, snakemake.input.narrow, snakemake.params.span,  # noqa: F821
                     residual_dir=snakemake.output.residuals,  # noqa: F821
                     residual_m_choices=snakemake.params.residual_m_choices)  # noqa: F821
result["state"] = snakemake.wildcards.state  # noqa: F821
for r in result["records"]:
    print({k: r[k] for k in ("direction", "m_choice", "eval", "fse_first", "fse_second", "fsg")})
write_json(result, snakemake.output.json)  # noqa: F821
