TOY_CAPTIONS = {
    "table1": "Table 1: train and test accuracy of one wide toy model and of concatenations of narrow models "
    "with the same total first-layer width (for a concatenation, a linear probe on its first-layer features); "
    "mean and standard deviation over the toy seeds.",
    "fig5": "Figure 5: best correlation of first-layer neurons with the addition and the multiplication signal "
    "vectors during training, the narrowest concatenation against the wide model (mean over seeds).",
    "fig6": "Figure 6: one neuron of a narrow model, activated by a signal vector at initialization: its "
    "projection on that vector over training and the two forces on it per step (normalized gradient against "
    "weight decay), cumulated.",
    "fig9": "Figure 9: neurons per model activated by each signal vector at initialization against "
    "first-layer width, with the expectation m P(N(0, sigma0^2) > b).",
}


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
        report(
            "results/tables/table1_toy_accuracy.csv",
            caption="../report/toy.rst",
            category="Toy setting (Section 4)",
            labels={"table": "table1", "shows": "toy accuracy"},
        ),
        "results/tables/table1_toy_accuracy.md",
    params:
        what="table1",
        report={"caption": TOY_CAPTIONS["table1"]},
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
            pdf=f"results/figures/{_name}_{_slug}.pdf",
            png=report(
                f"results/figures/{_name}_{_slug}.png",
                caption="../report/toy.rst",
                category="Toy setting (Section 4)",
                labels={"figure": _name, "shows": _slug},
            ),
        params:
            report={"caption": TOY_CAPTIONS[_name]},
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
