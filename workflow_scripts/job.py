"""Every rule's script: the workflow's own featspan first on the path, then the rule's job (featspan/jobs.py)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - Snakemake's script object

from featspan.jobs import run  # noqa: E402

run(snakemake)  # noqa: F821
