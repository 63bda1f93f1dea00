rule span:
    input:
        base=FEATURES.replace("{alpha}", "1"),
        narrow=FEATURES,
    output:
        json=SPAN,
        residuals=directory(RESIDUALS),
    params:
        span=canon(config["span"]),
        residual_m_choices=config["probe"]["residual_m_choices"],
    log:
        log("span", "{exp}/{state}/a{alpha}_r{rep}"),
    benchmark:
        bench("span", "{exp}/{state}/a{alpha}_r{rep}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/span.py"


rule summarize_span:
    input:
        lambda wc: [
            SPAN.format(exp=wc.exp, state=s, alpha=a, rep=r)
            for s in STATES
            for a, r in narrow_cohorts(wc.exp)
        ],
    output:
        SUMMARY.replace("{kind}", "span"),
    log:
        log("summarize_span", "{exp}"),
    benchmark:
        bench("summarize_span", "{exp}")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/summarize.py"
