# One verdict shard per sample shard (schema: ttscale.schemas.VERDICTS), and the gold audit of each
# dataset's reference solutions. The verify settings are params, so changing limits or the
# backend reruns verification (cheap) but never generation.


rule verify:
    input:
        samples=f"{EXP}/samples/{PART}/{{block}}.parquet",
        problems=problems_table,
    output:
        f"{EXP}/verdicts/{PART}/{{block}}.parquet",
    params:
        settings=config["verify"],
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/verify/{PART}/{{block}}.log",
    benchmark:
        f"{BENCH}/verify/{PART}/{{block}}.tsv"
    group:
        "verify"
    script:
        "../scripts/verify.py"


rule audit:
    input:
        problems=f"{EXP}/problems/{{dataset}}.parquet",
    output:
        f"{EXP}/audit/{{dataset}}.parquet",
    params:
        settings=config["verify"],
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/audit/{{dataset}}.log",
    script:
        "../scripts/audit.py"


ALL_TARGETS += [path for run in RUNS for path in stage_shards("verdicts", run)]
ALL_TARGETS += expand(f"{EXP}/audit/{{dataset}}.parquet", dataset=config["datasets"])
