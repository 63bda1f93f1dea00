# Paths of every artifact kind (one pattern each) and the helpers that expand them.
import json

from featspan.cohort import experiment_cohorts
from featspan.models.scaling import alpha_from_token, alpha_label, alpha_token
from featspan.catalog import COMPARE as COMPARE_SPEC, FIGURES, SHUFFLED_TABLES, TABLES, TOY_FIGURES, TOY_SECTION, TOY_TABLES
from featspan.provenance import DATA_CODE, MODEL_CODE, TOY_CODE, source_digest, user_code_digest

EXPERIMENTS = list(config["experiments"])
# every artifact lies under one folder, so two presets (e.g. the toy's two normalizations) never clobber each other
RESULTS = config["results_dir"].rstrip("/")
# Patterns below are f-strings ({{exp}} is the wildcard {exp}): `snakemake --lint` flags a "+" path join.
STATES = ["trained", "init"]

DATASET = f"{RESULTS}/{{exp}}/dataset.h5"
CHECKPOINTS = f"{RESULTS}/{{exp}}/checkpoints/a{{alpha}}_r{{rep}}"
RESUME = f"{RESULTS}/{{exp}}/resume/a{{alpha}}_r{{rep}}.pt"
TUNING = f"{RESULTS}/{{exp}}/tuning/a{{alpha}}.json"
FEATURES = f"{RESULTS}/{{exp}}/features/{{state}}/a{{alpha}}_r{{rep}}"
SPAN = f"{RESULTS}/{{exp}}/span/{{state}}/a{{alpha}}_r{{rep}}.json"
RESIDUALS = f"{RESULTS}/{{exp}}/residuals/{{state}}/a{{alpha}}_r{{rep}}"
PROBE = f"{RESULTS}/{{exp}}/probe/{{state}}/a{{alpha}}_r{{rep}}.json"
SUMMARY = f"{RESULTS}/{{exp}}/summary/{{kind}}.csv"
COMPARE = f"{RESULTS}/{{exp}}/compare/{{state}}.{{ext}}"
FIGURE = f"{RESULTS}/figures/{{name}}_{{slug}}.{{ext}}"
TABLE = f"{RESULTS}/tables/{{name}}_{{slug}}.{{ext}}"
LOG = f"{RESULTS}/logs/{{rule}}/{{stem}}.log"
BENCH = f"{RESULTS}/benchmarks/{{rule}}/{{stem}}.tsv"


# Digests of the featspan sources behind datasets, models and toy runs: a param of those rules, so a code change
# reruns them (and misses the between-workflow cache) instead of reusing stale artifacts.
DATA_CODE_DIGEST = source_digest(DATA_CODE)
MODEL_CODE_DIGEST = source_digest(MODEL_CODE)
TOY_CODE_DIGEST = source_digest(TOY_CODE)


wildcard_constraints:
    exp="[A-Za-z][A-Za-z0-9_]*",
    alpha="[0-9]+(_[0-9]+)?",
    rep="[0-9]+",
    state="trained|init",
    kind="span|probe",


def canon(obj):
    """Params with dict keys sorted, so reordering keys in a config file triggers no rerun."""
    return json.loads(json.dumps(obj, sort_keys=True))


def log(rule, stem):
    return LOG.format(rule=rule, stem=stem)


def bench(rule, stem):
    return BENCH.format(rule=rule, stem=stem)


def exp_config(wildcards):
    return config["experiments"][wildcards.exp]


def alpha_value(wildcards):
    return alpha_from_token(wildcards.alpha)


def tuning_input(wildcards):
    """The tuning result the training of a cohort reads, when the experiment tunes (else nothing)."""
    if "tune" not in exp_config(wildcards):
        return {}
    return {"tuning": TUNING.format(exp=wildcards.exp, alpha=wildcards.alpha)}


def train_job(wildcards):
    """What determines a cohort's training (the train rule's params; hashed by the between-workflow cache)."""
    return canon(
        {
            "experiment": wildcards.exp,
            "alpha": alpha_value(wildcards),
            "replicate": int(wildcards.rep),
            "model": exp_config(wildcards)["model"],
            "train": exp_config(wildcards)["train"],
        }
    )


def model_code(wildcards):
    """The digest of the code that builds and trains a model: featspan's, plus the source file of a model
    of the user's own (editing it retrains)."""
    return MODEL_CODE_DIGEST + user_code_digest(exp_config(wildcards)["model"]["arch"])


def features_job(wildcards):
    exp = exp_config(wildcards)
    job = {"experiment": wildcards.exp, "dataset": exp["dataset"]["name"]}
    if "train_rows" in exp.get("features", {}):  # only then: other experiments' params (and cache keys) stay
        job["train_rows"] = exp["features"]["train_rows"]
    return job


def all_cohorts(exp):
    """(alpha token, replicate) of every cohort of an experiment."""
    return experiment_cohorts(config["experiments"][exp])


def narrow_cohorts(exp):
    """(alpha token, replicate) of every alpha < 1 cohort of an experiment."""
    return [(a, r) for a, r in experiment_cohorts(config["experiments"][exp]) if a != "1"]


def base_cohorts(exp):
    return [(a, r) for a, r in experiment_cohorts(config["experiments"][exp]) if a == "1"]


def smallest_alpha_cohorts(exp):
    """The cohorts of the smallest alpha (Table 3 probes its residuals and random-init features)."""
    smallest = alpha_token(min(config["experiments"][exp]["alphas"]))
    return [(a, r) for a, r in experiment_cohorts(config["experiments"][exp]) if a == smallest]


def figure_experiments(name):
    """The experiments a figure shows: all, or those of the architectures it is restricted to."""
    archs = FIGURES[name].get("archs")
    return [e for e in EXPERIMENTS if archs is None or config["experiments"][e]["model"]["arch"] in archs]


def shuffled_table_experiments(name):
    """The experiments Table 4 (ResNet-18) or Table 5 (VGG-16) shows; none when span.shuffled is off."""
    if not config["span"]["shuffled"]:
        return []
    return [e for e in EXPERIMENTS if config["experiments"][e]["model"]["arch"] == SHUFFLED_TABLES[name]]


def table_file(name, ext):
    return TABLE.format(name=name, slug=TABLES[name]["slug"], ext=ext)


def findings_files():
    """The findings table's CSV, Markdown and HTML (its report section); none in a toy-only config."""
    return [table_file("findings", ext) for ext in ("csv", "md", "html")] if EXPERIMENTS else []


def table_files(names):
    """CSV and Markdown files of the tables that have something to show."""
    return [table_file(n, ext) for n in names if table_has_content(n) for ext in ("csv", "md")]


def table_has_content(name):
    if name in SHUFFLED_TABLES:
        return bool(shuffled_table_experiments(name))
    if name in TOY_TABLES:
        return TOY is not None
    return bool(EXPERIMENTS)


def report_about(experiments):
    """What a report caption states about each experiment it shows (alphas, replicates, data)."""
    return {
        e: {
            "arch": config["experiments"][e]["model"]["arch"],
            "dataset": config["experiments"][e]["dataset"]["name"],
            "alphas": [alpha_label(a) for a in sorted(config["experiments"][e]["alphas"], reverse=True)],
            "replicates": len(config["experiments"][e]["seeds"]),
            "label": config["experiments"][e].get("label", ""),
        }
        for e in experiments
    }


def unavailable(target, needs):
    """The input function of a target this config cannot make: asking for it says what it needs."""

    def refuse(wildcards):
        raise WorkflowError(f"{target} needs {needs}; this config has none (experiments: {', '.join(EXPERIMENTS)})")

    return refuse


def figure_file(name, ext):
    slug = (FIGURES.get(name) or TOY_FIGURES[name])["slug"]
    return FIGURE.format(name=name, slug=slug, ext=ext)


def figure_files(names):
    """Output files of the figures that have at least one experiment to show."""
    return [figure_file(n, ext) for n in names if figure_experiments(n) for ext in ("pdf", "png")]


def probe_inputs(wc):
    """A narrow cohort's trained probes also read the base model and the residuals (Figure 4, Table 3)."""
    inputs = {"features": FEATURES.format(**wc)}
    if wc.alpha != "1" and wc.state == "trained":
        inputs["base"] = FEATURES.format(exp=wc.exp, state=wc.state, alpha="1", rep=wc.rep)
        inputs["residuals"] = RESIDUALS.format(**wc)
    return inputs


TOY = config.get("toy")
TOY_RUN = f"{RESULTS}/toy/runs/m{{width}}_s{{seed}}.json"
TOY_SIGNALS = f"{RESULTS}/toy/learned_signals.json"


def toy_runs(wildcards=None):
    return [TOY_RUN.format(width=w, seed=s) for w in TOY["widths"] for s in TOY["seeds"]]


def compare_inputs(wildcards):
    """The feature folders of the first replicate's cohorts: M_1, M_1' and one model of every alpha."""
    first = exp_config(wildcards)["seeds"][0]
    return [FEATURES.format(exp=wildcards.exp, state=wildcards.state, alpha=a, rep=r)
            for a, r in all_cohorts(wildcards.exp) if r == first]


def compare_outputs():
    return [COMPARE.format(exp=e, state=s, ext=ext) for e in EXPERIMENTS for s in STATES for ext in ("json", "png")]


def toy_outputs():
    """Everything the toy setting produces (nothing when the config has no toy section)."""
    if TOY is None:
        return []
    return [TOY_SIGNALS, *table_files(TOY_TABLES)] + [figure_file(n, ext) for n in TOY_FIGURES for ext in ("pdf", "png")]


def toy_constants():
    return canon({k: v for k, v in TOY.items() if k not in ("seeds", "widths", "total_width")})


def toy_mem_mb(wildcards):
    """A toy run's memory: its M x m first-layer features of the training inputs (float32), and for a
    concatenation (M > 1) the probe's p x p eigendecomposition (float64, p = M x m features at most).
    At total width 30,000 jobs peaked at 6.2-8.6 GB (4,000 declared before); at 4,000, under 1 GB."""
    features = TOY["n_train"] * TOY["total_width"] * 4 * 3
    probe = TOY["total_width"] ** 2 * 8 * 1.2 if TOY["total_width"] > int(wildcards.width) else 0
    return max(4000, int((features + probe) / 1e6) + 1000)
