# Per run: every curve over k with bootstrap intervals, per difficulty bin; scaling-law fits and the
# extrapolation check; cost; compute-optimal selector per bin. Then one experiment-wide set of
# tables with the summary and the compute-matched comparison (see docs/analysis.md).

# the table names, defined once in ttscale.analysis.tables
from ttscale.analysis.tables import EXP_TABLES, RUN_TABLES


rule analyze:
    input:
        samples=f"{EXP}/aggregate/{PART}/samples.parquet",
        problems=f"{EXP}/aggregate/{PART}/problems.parquet",
        model=built_model,
        search_shards=search_sample_shards,
    output:
        **{t: f"{EXP}/analysis/{PART}/{t}.parquet" for t in RUN_TABLES},
    params:
        # canonical (sorted keys): key order in the config is not a change; of the model only what
        # the cost model reads (path, revision, price, flops), so engine tuning reruns nothing
        settings=tkeys.canonical(ANALYSIS),
        model_spec=lambda w: tkeys.analysis_model_spec(config["models"][w.model]),
        seed=config["seed"],
        scorers=analysis_scorers,
        step_scorer=analysis_step_scorer,
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
                {t: f"{EXP}/analysis/{r.partition()}/{t}.parquet" for t in RUN_TABLES} | run_identity(r)
                for r in sorted(RUNS, key=lambda r: r.partition())
            ]
        ),
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/compare/compare.log",
    script:
        "../scripts/compare.py"
