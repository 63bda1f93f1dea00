# Features of every model of a cohort, trained and at init, in one job (cacheable: see rules/train.smk).
rule features:
    input:
        dataset=DATASET,
        checkpoints=CHECKPOINTS,
    output:
        trained=directory(FEATURES.replace("{state}", "trained")),
        init=directory(FEATURES.replace("{state}", "init")),
    params:
        job=features_job,
        code=model_code,
    cache: True
    log:
        log("features", "{exp}/a{alpha}_r{rep}"),
    threads: config["threads_per_job"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/job.py"
