# The toy setting of Section 4: one job per (first-layer width m, seed); M = total_width / m models
# train together as one batched computation.
rule toy_run:
    output:
        TOY_RUN,
    params:
        toy=lambda wc: toy_constants(),
        width=lambda wc: int(wc.width),
        n_models=lambda wc: TOY["total_width"] // int(wc.width),
        seed=lambda wc: int(wc.seed),
    log:
        log("toy_run", "m{width}_s{seed}"),
    benchmark:
        bench("toy_run", "m{width}_s{seed}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/toy_run.py"


rule toy_learned_signals:
    input:
        toy_runs,
    output:
        "results/toy/learned_signals.json",
    params:
        what="learned_signals",
    log:
        log("toy_report", "learned_signals"),
    benchmark:
        bench("toy_report", "learned_signals")
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/toy_report.py"


rule table1:
    input:
        toy_runs,
    output:
        multiext("results/tables/table1_toy_accuracy", ".csv", ".md"),
    params:
        what="table1",
    log:
        log("toy_report", "table1"),
    benchmark:
        bench("toy_report", "table1")
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/toy_report.py"


for _name, _slug in (("fig5", "toy_correlation"), ("fig6", "toy_neuron_forces"), ("fig9", "toy_init_activation")):

    rule:
        name:
            _name
        input:
            toy_runs,
        output:
            multiext(f"results/figures/{_name}_{_slug}", ".pdf", ".png"),
        params:
            what={"fig5": "figure5", "fig6": "figure6", "fig9": "figure9"}[_name],
        log:
            log("toy_report", _name),
        benchmark:
            bench("toy_report", _name)
        localrule: True
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        conda:
            "../envs/figures.yaml"
        script:
            "../workflow_scripts/toy_report.py"
