rule features:
    input:
        dataset=DATASET,
        checkpoints=CHECKPOINTS,
    output:
        trained=directory(FEATURES.replace("{state}", "trained")),
        init=directory(FEATURES.replace("{state}", "init")),
    params:
        job=lambda wc: {"experiment": wc.exp, "dataset": exp_config(wc)["dataset"]["name"]},
    log:
        log("features", "{exp}/a{alpha}_r{rep}"),
    benchmark:
        bench("features", "{exp}/a{alpha}_r{rep}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/features.py"
