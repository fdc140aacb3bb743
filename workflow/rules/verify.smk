# One verdict shard per sample shard (schema: ttscale.schemas.VERDICTS), and the gold audit of each
# dataset's reference solutions. What decides a dataset's verdicts (ttscale.keys.verify_identity:
# its resolved task, the verifier the task maps to, limits, container limits, max_code_bytes) is the
# dataset's identity file R/identity/verify/<dataset>.json (identity.smk) for verify, and the param of
# audit (whose problem table is no ancient() input): changing one reruns verification (cheap),
# never generation. Workers and the sandbox backend, image and sif only say where and how fast the
# same checks run; they are left out, and the scripts read the settings from the config.

AUDIT_IDENTITY = {d: tkeys.identity_json(tkeys.audit_identity(config, d)) for d in config["datasets"]}


rule verify:
    input:
        samples=f"{EXP}/samples/{PART}/{{block}}.parquet",
        problems=problems_table,
        identity=lambda w: tplan.identity_file(config, "verify", w.dataset),
        extended=extended_table,
        # verify.reference_limits: each problem's CPU limit comes from its reference solution's time
        audit=lambda w: [f"{EXP}/audit/{w.dataset}.parquet"] if config["verify"].get("reference_limits") else [],
    output:
        f"{EXP}/verdicts/{PART}/{{block}}.parquet",
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
        identity=lambda w: AUDIT_IDENTITY[w.dataset],
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/audit/{{dataset}}.log",
    script:
        "../scripts/audit.py"


ALL_TARGETS += [path for run in RUNS for path in stage_shards("verdicts", run)]
ALL_TARGETS += expand(f"{EXP}/audit/{{dataset}}.parquet", dataset=config["datasets"])
