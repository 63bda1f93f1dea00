# featspan: what do wide networks learn that narrow ones cannot?
# Entry point: config validation, the stage rules, `all`, and one target rule per figure.
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

sys.path.insert(0, workflow.basedir)  # the workflow's own featspan (light modules only here)

from featspan.configcheck import explain, semantic_errors

# config.yaml is the default; a preset given with --configfile replaces it instead of merging into
# it, so `--configfile configs/paper.yaml` runs the paper's experiments and no others.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


try:
    validate(config, "schemas/config.schema.yaml")
except WorkflowError as err:  # one line naming the key instead of the schema dump
    if err.__context__ is None:
        raise
    sys.exit(f"Error: {explain(err.__context__)}")


for _error in semantic_errors(config):  # what validates but cannot run, before any job
    sys.exit(f"Error: {_error}")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/features.smk"
include: "rules/span.smk"
include: "rules/probe.smk"
include: "rules/figures.smk"
include: "rules/toy.smk"


rule all:
    input:
        figure_files(FIGURES),
        table_files(["table2", "table3", *SHUFFLED_TABLES]),
        findings_files(),
        compare_outputs(),
        toy_outputs(),
    default_target: True
    localrule: True
