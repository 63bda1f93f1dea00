# One target rule per figure of the paper: `snakemake fig1` builds just that figure and what it needs.
# A figure restricted to some architectures (fig10: VGG-16) that no experiment has says so when asked for.
for _name, _spec in FIGURES.items():
    if not figure_experiments(_name):

        rule:
            name:
                _name
            input:
                unavailable(_name, "an experiment with model.arch: " + " or ".join(_spec.get("archs", [])))
            localrule: True

        continue

    rule:
        name:
            _name
        input:
            [SUMMARY.format(exp=e, kind=_spec["source"]) for e in figure_experiments(_name)],
        output:
            pdf=figure_file(_name, "pdf"),
            png=report(
                figure_file(_name, "png"),
                caption="../report/figure.rst",
                category=_spec["section"],
                labels={"figure": _name, "shows": _spec["slug"]},
            ),
        params:
            options={"experiments": figure_experiments(_name), "about": report_about(figure_experiments(_name))},
            report={"caption": _spec["caption"], "experiments": report_about(figure_experiments(_name))},
        log:
            log("figures", _name),
        benchmark:
            bench("figures", _name)
        localrule: True
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        conda:
            "../envs/figures.yaml"
        script:
            "../workflow_scripts/job.py"


rule table2:
    input:
        lambda wc: [CHECKPOINTS.format(exp=e, alpha=a, rep=r) for e in EXPERIMENTS for a, r in all_cohorts(e)],
    output:
        report(
            table_file("table2", "csv"),
            caption="../report/table.rst",
            category=TABLES["table2"]["section"],
            labels={"table": "table2", "shows": TABLES["table2"]["shows"]},
        ),
        table_file("table2", "md"),
    params:
        report={"caption": TABLES["table2"]["caption"], "experiments": report_about(EXPERIMENTS)},
    log:
        log("tables", "table2"),
    benchmark:
        bench("tables", "table2")
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/job.py"


rule table3:
    input:
        [SUMMARY.format(exp=e, kind="probe") for e in EXPERIMENTS],
    output:
        report(
            table_file("table3", "csv"),
            caption="../report/table.rst",
            category=TABLES["table3"]["section"],
            labels={"table": "table3", "shows": TABLES["table3"]["shows"]},
        ),
        table_file("table3", "md"),
    params:
        experiments=EXPERIMENTS,
        report={"caption": TABLES["table3"]["caption"], "experiments": report_about(EXPERIMENTS)},
    log:
        log("tables", "table3"),
    benchmark:
        bench("tables", "table3")
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/job.py"


# The paper's findings at a glance: one row per finding, one column per experiment (docs/method.md section 9).
rule findings:
    input:
        span=[SUMMARY.format(exp=e, kind="span") for e in EXPERIMENTS],
        probe=[SUMMARY.format(exp=e, kind="probe") for e in EXPERIMENTS],
        span_results=[SPAN.format(exp=e, state="trained", alpha=a, rep=r)
                      for e in EXPERIMENTS for a, r in narrow_cohorts(e)],
        table2=table_file("table2", "csv"),
    output:
        table_file("findings", "csv"),
        table_file("findings", "md"),
        report(
            table_file("findings", "html"),
            caption="../report/table.rst",
            category=TABLES["findings"]["section"],
            labels={"table": "findings", "shows": TABLES["findings"]["shows"]},
        ),
    params:
        experiments=EXPERIMENTS,
        archs={e: config["experiments"][e]["model"]["arch"] for e in EXPERIMENTS},
        report={"caption": TABLES["findings"]["caption"], "experiments": report_about(EXPERIMENTS)},
    log:
        log("tables", "findings"),
    benchmark:
        bench("tables", "findings")
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/job.py"


# Tables 4 and 5: regular vs shuffled forward FSE for the ResNet-18 and the VGG-16 experiments; asked for
# without an experiment of its architecture (or with span.shuffled off), a table says what it needs.
for _name, _arch in SHUFFLED_TABLES.items():
    if not shuffled_table_experiments(_name):

        rule:
            name:
                _name
            input:
                unavailable(_name, f"an experiment with model.arch: {_arch} and span.shuffled: true")
            localrule: True

        continue

    rule:
        name:
            _name
        input:
            [SPAN.format(exp=e, state="trained", alpha=a, rep=r)
             for e in shuffled_table_experiments(_name) for a, r in narrow_cohorts(e)],
        output:
            report(
                table_file(_name, "csv"),
                caption="../report/table.rst",
                category=TABLES[_name]["section"],
                labels={"table": _name, "shows": TABLES[_name]["shows"]},
            ),
            table_file(_name, "md"),
        params:
            report={"caption": TABLES[_name]["caption"], "experiments": report_about(shuffled_table_experiments(_name))},
        log:
            log("tables", _name),
        benchmark:
            bench("tables", _name)
        localrule: True
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/figures.yaml"
        script:
            "../workflow_scripts/job.py"
