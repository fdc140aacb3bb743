# One job per run after its verdicts and scores (ttscale.analysis.job): the DuckDB join of its sample,
# verdict and score shards into one per-sample and one per-problem table (R/aggregate/<run>/; see
# docs/analysis.md), the math judgement listing (ttscale.verify.judgement; empty tables for a run the
# math verifier does not judge), and every curve over k with bootstrap intervals, per difficulty bin;
# scaling-law fits and the extrapolation check; cost; compute-optimal selector per bin. The three are
# one job because each is seconds of work and Snakemake's cost per job is not (docs/cluster.md). The
# shard lists come from the planner, never from a glob: a block left over from an older sample count
# is not counted twice. Then one experiment-wide set of tables with the summary and the
# compute-matched comparison.

# the table names, defined once in ttscale.analysis.tables
from ttscale.analysis.tables import EXP_TABLES, RUN_TABLES

# datasets whose verdicts come from the math verifier: their runs get the judgement listing
MATH_DATASETS = {d for d in config["datasets"] if tkeys.verify_identity(config, d)["verifier"] == "math"}


rule analyze:
    input:
        # every round's shards for an adaptive run (adaptive.smk)
        samples=lambda w: run_shards(w, "samples"),
        verdicts=lambda w: run_shards(w, "verdicts"),
        scores=lambda w: [p for files in run_score_files(w).values() for p in files],
        problems=f"{EXP}/problems/{{dataset}}.parquet",
        model=built_model,
    output:
        aggregate_samples=f"{EXP}/aggregate/{PART}/samples.parquet",
        aggregate_problems=f"{EXP}/aggregate/{PART}/problems.parquet",
        judgement_samples=f"{EXP}/analysis/{PART}/judgement_samples.parquet",
        judgement_summary=f"{EXP}/analysis/{PART}/judgement_summary.parquet",
        **{t: f"{EXP}/analysis/{PART}/{t}.parquet" for t in RUN_TABLES},
    params:
        score_files=run_score_files,
        exclude=lambda w: sorted(set(config["datasets"][w.dataset].get("exclude") or [])),
        # an int, or per problem id for an adaptive run
        samples_per_problem=planned_samples,
        math=lambda w: w.dataset in MATH_DATASETS,
        # canonical (sorted keys): key order in the config is not a change; of the model only what
        # the cost model reads (path, revision, price, flops), so engine tuning reruns nothing
        settings=tkeys.canonical(ANALYSIS),
        model_spec=lambda w: tkeys.analysis_model_spec(config["models"][w.model]),
        seed=config["seed"],
        scorers=analysis_scorers,
        step_scorer=analysis_step_scorer,
        # a beam or DVTS run's guide: its score columns from the search's step scores (no score job)
        search_scorer=search_scorer,
        # a search run: each budget is analyzed as a run of its own, under its label
        search_budgets=search_budgets,
        adaptive=adaptive_settings,
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/analyze/{PART}.log",
    benchmark:
        f"{BENCH}/analyze/{PART}.tsv"
    group:
        "analysis"
    script:
        "../scripts/analyze.py"


rule compare:
    input:
        expand(
            f"{EXP}/analysis/model={{run.model}}/dataset={{run.dataset}}/sampling={{run.key}}/{{table}}.parquet",
            run=RUNS,
            table=RUN_TABLES,
        ),
    output:
        **{t: f"{EXP}/analysis/{t}.parquet" for t in EXP_TABLES},
    params:
        settings=tkeys.canonical(ANALYSIS),
        seed=config["seed"],
        runs=tkeys.canonical(
            [
                {t: f"{EXP}/analysis/{r.partition()}/{t}.parquet" for t in RUN_TABLES} | ident
                for r in sorted(RUNS, key=lambda r: r.partition())
                for ident in run_identities(r)
            ]
        ),
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/compare/compare.log",
    script:
        "../scripts/compare.py"
