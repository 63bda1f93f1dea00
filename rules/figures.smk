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
            multiext(f"results/figures/{_name}_{_spec['slug']}", ".pdf", ".png"),
        params:
            figure=_name,
            options={"experiments": figure_experiments(_name)},
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
        multiext("results/tables/table2_accuracy_and_m", ".csv", ".md"),
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
        multiext("results/tables/table3_residual_probes", ".csv", ".md"),
    params:
        experiments=EXPERIMENTS,
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
