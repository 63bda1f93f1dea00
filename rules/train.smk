# Training: a tuning search per (experiment, alpha) when the experiment tunes, then one job per cohort.
#
# Between-workflow cache: with `SNAKEMAKE_OUTPUT_CACHE=/shared/cache snakemake --cache`, train and features
# are cacheable, so a second workflow folder (another config with the same experiment, a colleague's
# checkout) links finished checkpoints and features instead of recomputing them. Snakemake refuses a
# `benchmark:` on a cacheable rule (a result taken from the cache has no timing to give), so these two
# rules have none: their logs time every epoch and end with the job's wall time.


rule tune:
    input:
        dataset=DATASET,
    output:
        TUNING,
    params:
        job=lambda wc: canon(
            {
                "experiment": wc.exp,
                "alpha": alpha_value(wc),
                "replicate": exp_config(wc)["seeds"][0],
                "model": exp_config(wc)["model"],
                "train": exp_config(wc)["train"],
                "tune": exp_config(wc)["tune"],
            }
        ),
        code=model_code,
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
        "../workflow_scripts/job.py"


rule train:
    input:
        unpack(tuning_input),
        dataset=DATASET,
    output:
        directory(CHECKPOINTS),
    params:
        resume=RESUME,
        job=train_job,
        code=model_code,
    # the long jobs first (narrow cohorts hold many models), so that the many short downstream jobs fill
    # every core at the end instead of one long cohort running alone
    priority: lambda wc: 2 if wc.alpha != "1" else 1
    cache: True
    log:
        log("train", "{exp}/a{alpha}_r{rep}"),
    threads: config["threads_per_job"]
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=config["gpus_per_job"],
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/job.py"
