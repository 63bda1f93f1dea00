rule tune:
    input:
        dataset=DATASET,
    output:
        TUNING,
    params:
        job=lambda wc: canon(
            {
                "alpha": alpha_value(wc),
                "seed": exp_config(wc)["seeds"][0] * 10000,
                "model": exp_config(wc)["model"],
                "train": exp_config(wc)["train"],
                "tune": exp_config(wc)["tune"],
            }
        ),
    log:
        log("tune", "{exp}/a{alpha}"),
    benchmark:
        bench("tune", "{exp}/a{alpha}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=4000,
        runtime=1440,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/tune.py"


rule train:
    input:
        unpack(tuning_input),
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
        gpu=config["gpus_per_job"],
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/train.py"
