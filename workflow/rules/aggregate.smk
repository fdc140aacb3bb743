# One per-sample and one per-problem table per run (model x dataset x sampling), joined by DuckDB from
# the run's sample, verdict and score shards (see docs/analysis.md). The shard lists come from the
# planner, never from a glob: a block left over from an older sample count is not counted twice.


rule aggregate:
    input:
        # every round's shards for an adaptive run (adaptive.smk)
        samples=lambda w: run_shards(w, "samples"),
        verdicts=lambda w: run_shards(w, "verdicts"),
        scores=lambda w: [p for files in run_score_files(w).values() for p in files],
        problems=f"{EXP}/problems/{{dataset}}.parquet",
    output:
        samples=f"{EXP}/aggregate/{PART}/samples.parquet",
        problems=f"{EXP}/aggregate/{PART}/problems.parquet",
    params:
        score_files=run_score_files,
        exclude=lambda w: sorted(set(config["datasets"][w.dataset].get("exclude") or [])),
        # an int, or per problem id for an adaptive run
        samples_per_problem=planned_samples,
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/aggregate/{PART}.log",
    benchmark:
        f"{BENCH}/aggregate/{PART}.tsv"
    group:
        "analysis"
    script:
        "../scripts/aggregate.py"
