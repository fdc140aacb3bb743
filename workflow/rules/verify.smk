# One verdict shard per sample shard (schema: ttscale.schemas.VERDICTS), and the gold audit of each
# dataset's reference solutions. What decides a dataset's verdicts (ttscale.config.verify_identity:
# its resolved task, the verifier the task maps to, limits, container limits, max_code_bytes) is the
# dataset's identity file R/identity/verify/<dataset>.json (common.smk) for verify, and the param of
# audit (whose problem table is no ancient() input): changing one reruns verification (cheap),
# never generation. Workers and the sandbox backend, image and sif only say where and how fast the
# same checks run; they are left out, and the scripts read the settings from the config.

IDENTITIES.update({("verify", d): tconfig.identity_json(tconfig.verify_identity(config, d)) for d in config["datasets"]})
AUDIT_IDENTITY = {d: tconfig.identity_json(tconfig.audit_identity(config, d)) for d in config["datasets"]}


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


# Identity files (verify and score). R/identity/<stage>/<name>.json holds what decides the results
# of a stage's jobs (canonical JSON: a dataset's verifier and limits, a scorer's spec and model);
# this tiny local job writes it, with that text as its param, and the stage's jobs take the file as
# an input. A change reruns this job, whose newer file reruns exactly the jobs that read it. A param
# of the per-block jobs themselves would not do: when Snakemake reruns a job, it checks no param of
# the jobs downstream of it whose link to it is ancient(), and the problem table is such a link for
# every per-block stage (changing a dataset's task or ids rebuilds the table in the same run).
rule identity:
    output:
        f"{EXP}/identity/{{stage}}/{{name}}.json",
    wildcard_constraints:
        stage="verify|score",
        name=NAME,
    params:
        identity=lambda w: IDENTITIES[(w.stage, w.name)],
    log:
        f"{LOGS}/identity/{{stage}}/{{name}}.log",
    localrule: True
    conda:
        "../envs/ttscale.yaml"
    script:
        "../scripts/identity.py"


ALL_TARGETS += [path for run in RUNS for path in stage_shards("verdicts", run)]
ALL_TARGETS += expand(f"{EXP}/audit/{{dataset}}.parquet", dataset=config["datasets"])
