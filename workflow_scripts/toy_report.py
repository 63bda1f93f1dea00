"""Rules toy_summary, table1, fig5, fig6, fig9: the toy setting's outputs from its runs."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan import toy_report  # noqa: E402

runs = toy_report.load_runs(snakemake.input)  # noqa: F821
what = snakemake.params.what  # noqa: F821
out = list(snakemake.output)  # noqa: F821
if what == "learned_signals":
    toy_report.write_learned_signals(runs, out[0])
elif what == "table1":
    toy_report.write_table1(runs, *out)
else:
    getattr(toy_report, what)(runs, out)
