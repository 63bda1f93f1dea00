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
        code=TOY_CODE_DIGEST,
    # before the cohorts: the narrow toy cohort is the longest job of the default run
    priority: 3
    log:
        log("toy_run", "m{width}_s{seed}"),
    benchmark:
        bench("toy_run", "m{width}_s{seed}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=toy_mem_mb,
        runtime=120,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/job.py"


rule toy_learned_signals:
    input:
        toy_runs,
    output:
        TOY_SIGNALS,
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
        "../workflow_scripts/job.py"


for _name in TOY_TABLES:

    rule:
        name:
            _name
        input:
            toy_runs,
        output:
            report(
                table_file(_name, "csv"),
                caption="../report/toy.rst",
                category=TABLES[_name]["section"],
                labels={"table": _name, "shows": TABLES[_name]["shows"]},
            ),
            table_file(_name, "md"),
        params:
            report={"caption": TABLES[_name]["caption"]},
        log:
            log("toy_report", _name),
        benchmark:
            bench("toy_report", _name)
        localrule: True
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/figures.yaml"
        script:
            "../workflow_scripts/job.py"


for _name, _spec in TOY_FIGURES.items():

    rule:
        name:
            _name
        input:
            toy_runs,
        output:
            pdf=figure_file(_name, "pdf"),
            png=report(
                figure_file(_name, "png"),
                caption="../report/toy.rst",
                category=TOY_SECTION,
                labels={"figure": _name, "shows": _spec["slug"]},
            ),
        params:
            options={},
            report={"caption": _spec["caption"]},
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
            "../workflow_scripts/job.py"
