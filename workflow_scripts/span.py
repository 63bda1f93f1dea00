"""Rule span: FSE and FSG of one narrow cohort against its replicate's base cohort, trained and at init."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.io import write_json
from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.analysis import span_cohort  # noqa: E402

for state in ("trained", "init"):
    inp, out = snakemake.input, snakemake.output  # noqa: F821
    result = span_cohort(inp[f"base_{state}"], inp[f"narrow_{state}"], snakemake.params.span,  # noqa: F821
                         residual_dir=out[f"residuals_{state}"],
                         residual_m_choices=snakemake.params.residual_m_choices)  # noqa: F821
    result["state"] = state
    for r in result["records"]:
        print(state, {k: r[k] for k in ("direction", "m_choice", "eval", "fse_first", "fse_second", "fsg")})
    write_json(result, out[f"json_{state}"])
