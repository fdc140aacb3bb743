# One Parquet problem table per dataset (schema: ttscale.schemas.PROBLEMS).


rule problems:
    output:
        f"{EXP}/problems/{{dataset}}.parquet",
    params:
        spec=lambda w: config["datasets"][w.dataset],
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/problems/{{dataset}}.log",
    script:
        "../scripts/problems.py"


ALL_TARGETS += expand(f"{EXP}/problems/{{dataset}}.parquet", dataset=config["datasets"])
