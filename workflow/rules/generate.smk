# One shard of samples per block (schema: ttscale.schemas.SAMPLES). The block's identity is its
# path (sampling key + block name), so the script reads the config rather than params: engine
# settings that only change speed must not trigger reruns.


rule generate:
    input:
        problems=problems_table,
        model=built_model,
    output:
        f"{EXP}/samples/{PART}/{{block}}.parquet",
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/generate/{PART}/{{block}}.log",
    benchmark:
        f"{BENCH}/generate/{PART}/{{block}}.tsv"
    group:
        "generate"
    script:
        "../scripts/generate.py"


ALL_TARGETS += [path for run in RUNS for path in stage_shards("samples", run)]
