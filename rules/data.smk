rule dataset:
    output:
        DATASET,
    params:
        dataset=lambda wc: canon(exp_config(wc)["dataset"]),
        cache_dir=config["cache_dir"],
        code=lambda wc: DATA_CODE_DIGEST + user_code_digest(exp_config(wc)["dataset"]["name"]),
    # first of all: a few seconds each, and every cohort of the experiment waits for it (a dataset made
    # late made its long cohorts start late and run alone at the end)
    priority: 4
    log:
        log("dataset", "{exp}"),
    benchmark:
        bench("dataset", "{exp}")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/job.py"
