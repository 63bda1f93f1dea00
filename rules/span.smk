# One job per narrow cohort computes both states (trained and random init): the regressions of the
# two states are independent, but one process start and one pass of imports serve both.
rule span:
    input:
        base_trained=FEATURES.replace("{alpha}", "1").replace("{state}", "trained"),
        narrow_trained=FEATURES.replace("{state}", "trained"),
        base_init=FEATURES.replace("{alpha}", "1").replace("{state}", "init"),
        narrow_init=FEATURES.replace("{state}", "init"),
    output:
        json_trained=SPAN.replace("{state}", "trained"),
        residuals_trained=directory(RESIDUALS.replace("{state}", "trained")),
        json_init=SPAN.replace("{state}", "init"),
        residuals_init=directory(RESIDUALS.replace("{state}", "init")),
    params:
        span=canon(config["span"]),
        residual_m_choices=config["probe"]["residual_m_choices"],
    log:
        log("span", "{exp}/a{alpha}_r{rep}"),
    benchmark:
        bench("span", "{exp}/a{alpha}_r{rep}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/job.py"


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
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow_scripts/job.py"


# featspan compare on one replicate's models: the all-pairs FSE and CKA matrices (beyond the paper).
rule compare:
    input:
        compare_inputs,
    output:
        json=COMPARE.replace("{ext}", "json"),
        png=report(
            COMPARE.replace("{ext}", "png"),
            caption="../report/compare.rst",
            category=COMPARE_SPEC["section"],
            labels={"experiment": "{exp}", "state": "{state}"},
        ),
    params:
        span=canon(config["span"]),
        report=lambda wc: {"caption": COMPARE_SPEC["caption"].format(state=wc.state)},
    log:
        log("compare", "{exp}/{state}"),
    benchmark:
        bench("compare", "{exp}/{state}")
    threads: config["threads_per_job"]
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/job.py"
