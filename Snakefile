# featspan: what do wide networks learn that narrow ones cannot?
# Entry point: config validation, the stage rules, `all`, and one target rule per figure.
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)  # the workflow's own featspan (light modules only here)

from featspan.configcheck import ConfigError, check_config, read_config_file

# config.yaml is the default; a preset given with --configfile replaces it instead of merging into
# it, so `--configfile configs/paper.yaml` runs the paper's experiments and no others.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


for _path in workflow.config_settings.configfiles or [os.path.join(workflow.basedir, "config.yaml")]:
    try:  # a key written twice, or a file that is no mapping: YAML and Snakemake would not say
        read_config_file(_path)
    except ConfigError as err:
        sys.exit(f"Error: {err}")

try:
    check_config(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))
except ConfigError as err:  # one line naming the key instead of the schema dump
    sys.exit(f"Error: {err}")


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
