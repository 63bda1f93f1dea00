rule features:
    input:
        dataset=DATASET,
        checkpoints=CHECKPOINTS,
    output:
        directory(FEATURES),
    params:
        job=lambda wc: {"experiment": wc.exp, "dataset": exp_config(wc)["dataset"]["name"]},
    log:
        log("features", "{exp}/{state}/a{alpha}_r{rep}"),
    benchmark:
        bench("features", "{exp}/{state}/a{alpha}_r{rep}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/features.py"
