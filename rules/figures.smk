# One target rule per figure of the paper: `snakemake fig1` builds just that figure and what it needs.
# A figure restricted to some architectures (fig10: VGG-16) has no rule when no experiment has them.
for _name, _spec in FIGURES.items():
    if not figure_experiments(_name):
        continue

    rule:
        name:
            _name
        input:
            [SUMMARY.format(exp=e, kind=_spec["source"]) for e in figure_experiments(_name)],
        output:
            pdf=f"results/figures/{_name}_{_spec['slug']}.pdf",
            png=report(
                f"results/figures/{_name}_{_spec['slug']}.png",
                caption="../report/figure.rst",
                category=_spec["section"],
                labels={"figure": _name, "shows": _spec["slug"]},
            ),
        params:
            figure=_name,
            options={"experiments": figure_experiments(_name)},
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
            "../workflow_scripts/figure.py"


rule table2:
    input:
        lambda wc: [CHECKPOINTS.format(exp=e, alpha=a, rep=r) for e in EXPERIMENTS for a, r in all_cohorts(e)],
    output:
        report(
            "results/tables/table2_accuracy_and_m.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "table2", "shows": "accuracy and M values"},
        ),
        "results/tables/table2_accuracy_and_m.md",
    params:
        report={
            "caption": "Table 2: train and test accuracy of single models M_α (mean and standard deviation over "
            "every model of that width and all replicates), parameter and feature counts, M_feat and M_param.",
            "experiments": report_about(EXPERIMENTS),
        },
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
        "../workflow_scripts/table2.py"


rule table3:
    input:
        [SUMMARY.format(exp=e, kind="probe") for e in EXPERIMENTS],
    output:
        report(
            "results/tables/table3_residual_probes.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "table3", "shows": "residual-only probes"},
        ),
        "results/tables/table3_residual_probes.md",
    params:
        experiments=EXPERIMENTS,
        report={
            "caption": "Table 3: test accuracy of linear probes on residual features alone at each experiment's "
            "smallest α (R_over: what the trained M_param concatenation misses of M_1; R_low: what M_1 misses of "
            "the concatenation) against the random-init M_1 and random-init concatenation; mean and standard "
            "deviation over replicates.",
            "experiments": report_about(EXPERIMENTS),
        },
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
        "../workflow_scripts/table3.py"


# Tables 4 and 5: regular vs shuffled forward FSE for the ResNet-18 and the VGG-16 experiments; a table
# has no rule when no experiment has its architecture or the shuffled regression is off.
for _name, _arch in SHUFFLED_TABLES.items():
    if not shuffled_table_experiments(_name):
        continue

    rule:
        name:
            _name
        input:
            [SPAN.format(exp=e, state="trained", alpha=a, rep=r)
             for e in shuffled_table_experiments(_name) for a, r in narrow_cohorts(e)],
        output:
            report(
                f"results/tables/{_name}_shuffled_fse_{_arch}.csv",
                caption="../report/table.rst",
                category="Tables",
                labels={"table": _name, "shows": f"regular vs shuffled FSE, {_arch}"},
            ),
            f"results/tables/{_name}_shuffled_fse_{_arch}.md",
        params:
            table=_name,
            report={
                "caption": f"Table {_name.removeprefix('table')} (Appendix D.4): forward FSE of the trained {_arch} "
                "experiments, regular vs shuffled regression, on the validation part and the test split; α = 1 is "
                "FSE(M_1' → M_1), smaller α FSE(concatenation of M_param narrow models → M_1); lower is better; "
                "mean and standard deviation over replicates. The shuffled regression fits and evaluates on one "
                "pool of half training, half test inputs, closing the gap between validation and test errors.",
                "experiments": report_about(shuffled_table_experiments(_name)),
            },
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
            "../workflow_scripts/table_shuffled.py"
