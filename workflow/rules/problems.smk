# One Parquet problem table per dataset (schema: ttscale.schemas.PROBLEMS). The dataset's spec is a
# param, except what only says how it is sampled (samples_per_problem, sampling presets, models):
# raising the sample count must not rebuild the table.

PLAN_ONLY = ("samples_per_problem", "sampling", "models", "exclude")


rule problems:
    output:
        f"{EXP}/problems/{{dataset}}.parquet",
    params:
        spec=lambda w: {k: v for k, v in config["datasets"][w.dataset].items() if k not in PLAN_ONLY},
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/problems/{{dataset}}.log",
    script:
        "../scripts/problems.py"


ALL_TARGETS += expand(f"{EXP}/problems/{{dataset}}.parquet", dataset=config["datasets"])
