rule train:
    input:
        dataset=DATASET,
    output:
        directory(CHECKPOINTS),
    params:
        resume=RESUME,
        job=lambda wc: canon(
            {
                "experiment": wc.exp,
                "alpha": alpha_value(wc),
                "replicate": int(wc.rep),
                "model": exp_config(wc)["model"],
                "train": exp_config(wc)["train"],
            }
        ),
    log:
        log("train", "{exp}/a{alpha}_r{rep}"),
    benchmark:
        bench("train", "{exp}/a{alpha}_r{rep}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=4000,
        runtime=720,
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/train.py"
