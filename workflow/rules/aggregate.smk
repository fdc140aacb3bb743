# One per-sample and one per-problem table per run (model x dataset x sampling), joined by DuckDB from
# the run's sample, verdict and score shards (see docs/analysis.md). The shard lists come from the
# planner, never from a glob: a block left over from an older sample count is not counted twice.


rule aggregate:
    input:
        samples=lambda w: stage_shards("samples", run_of(w)),
        verdicts=lambda w: stage_shards("verdicts", run_of(w)),
        scores=lambda w: [p for files in score_files(w).values() for p in files],
        problems=f"{EXP}/problems/{{dataset}}.parquet",
    output:
        samples=f"{EXP}/aggregate/{PART}/samples.parquet",
        problems=f"{EXP}/aggregate/{PART}/problems.parquet",
    params:
        score_files=score_files,
        exclude=lambda w: sorted(set(config["datasets"][w.dataset].get("exclude") or [])),
        samples_per_problem=lambda w: run_of(w).samples_per_problem,
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
