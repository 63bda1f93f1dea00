rule probe:
    input:
        unpack(probe_inputs),
    output:
        PROBE,
    params:
        probe=canon(config["probe"]),
    log:
        log("probe", "{exp}/{state}/a{alpha}_r{rep}"),
    benchmark:
        bench("probe", "{exp}/{state}/a{alpha}_r{rep}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/job.py"


rule summarize_probe:
    input:
        lambda wc: [
            PROBE.format(exp=wc.exp, state="trained", alpha=a, rep=r)
            for a, r in base_cohorts(wc.exp) + narrow_cohorts(wc.exp)
        ]
        + [
            PROBE.format(exp=wc.exp, state="init", alpha=a, rep=r)
            for a, r in base_cohorts(wc.exp) + smallest_alpha_cohorts(wc.exp)
        ],
    output:
        SUMMARY.replace("{kind}", "probe"),
    log:
        log("summarize_probe", "{exp}"),
    benchmark:
        bench("summarize_probe", "{exp}")
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/job.py"
