# Identity files: what decides the results of a stage's jobs, as a file the jobs take as an input
# (docs/architecture.md, "Rerun rules"). R/identity/<stage>/<name>.json holds canonical JSON
# (ttscale.keys: a dataset's verifier and limits, a scorer's spec and model), and
# R/identity/ids/<dataset>/p<p0>-<p1>.json the ids at a block's problem positions for a dataset that
# lists its `ids`. A tiny local job writes each from its param; a change reruns that job, whose newer
# file reruns exactly the jobs that read it. A param of the per-block jobs themselves would not do:
# when Snakemake reruns a job, it checks no param of the jobs downstream of it whose link to it is
# ancient(), and the problem table is such a link for every per-block stage (changing a dataset's
# task or ids rebuilds the table in the same run).

# (stage, name) -> canonical JSON text of R/identity/<stage>/<name>.json
IDENTITIES = {("verify", d): tkeys.identity_json(tkeys.verify_identity(config, d)) for d in config["datasets"]}
IDENTITIES.update({("score", s): tkeys.identity_json(tkeys.scorer_identity(config, s)) for s in config["scorers"]})


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


rule problem_ids:
    output:
        f"{EXP}/identity/ids/{{dataset}}/{{positions}}.json",
    wildcard_constraints:
        positions=r"p\d+-\d+",
    params:
        ids=lambda w: tkeys.identity_json(tplan.block_ids(config, w.dataset, w.positions)),
    log:
        f"{LOGS}/identity/ids/{{dataset}}/{{positions}}.log",
    localrule: True
    conda:
        "../envs/ttscale.yaml"
    script:
        "../scripts/identity.py"
