"""Rules fig*: draw one figure of the paper from the summary tables of every experiment."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's own featspan

from featspan.jobs import start_job

start_job(snakemake)  # noqa: F821

from featspan.plots import draw_figure  # noqa: E402

draw_figure(snakemake.params.figure, list(snakemake.input), list(snakemake.output), **snakemake.params.options)  # noqa: F821
