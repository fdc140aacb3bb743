# One score shard per (scorer, sample shard) (schema: ttscale.schemas.SCORES). The scorer's spec is
# a param, so editing a scorer rescores its blocks; adding one scores every block once. Which runs
# it scores (datasets, models, strategies, sampling) and its engine settings are left out of the
# param: widening the selection scores only the new runs.


rule score:
    input:
        samples=f"{EXP}/samples/{PART}/{{block}}.parquet",
        problems=problems_table,
        model=scorer_model,
    output:
        f"{EXP}/scores/scorer={{scorer}}/{PART}/{{block}}.parquet",
    params:
        spec=lambda w: {k: v for k, v in config["scorers"][w.scorer].items() if k not in tconfig.SCORER_SELECTION},
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/score/{{scorer}}/{PART}/{{block}}.log",
    benchmark:
        f"{BENCH}/score/{{scorer}}/{PART}/{{block}}.tsv"
    group:
        "score"
    script:
        "../scripts/score.py"


ALL_TARGETS += [
    p
    for scorer in config["scorers"]
    for run in tplan.scored_runs(config, RUNS, scorer)
    for p in stage_shards("scores", run, scorer)
]
