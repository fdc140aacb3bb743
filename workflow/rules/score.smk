# One score shard per (scorer, sample shard) (schema: ttscale.schemas.SCORES), except a beam or DVTS
# run's guide, whose scores are the search's own step scores (tplan.scored_runs). What decides a
# scorer's scores (ttscale.keys.scorer_identity: its spec with the family's defaults, and the model
# it runs with the settings it inherits from `models:`, such as dtype and max_model_len) is the
# scorer's identity file R/identity/score/<scorer>.json (identity.smk): editing it rescores the
# scorer's blocks; adding a scorer scores every block once. Which runs it scores (datasets, models,
# strategies, sampling) and its engine settings are left out: widening the selection scores only
# the new runs. The script reads the config.
#
# `score` loads a model (a GPU on a cluster, the `engine` resource locally, its resources from the
# scorer's engine); `score_free` is the same rule for the model-free scorers (kind logprob), which
# only read the sample shard: it needs no model input and no GPU, and keeps a name of its own so that
# profiles size and group it apart (`use rule ... with:` replaces the resources it names whole).

import re

FREE_SCORERS = tplan.model_free_scorers(config)


rule score:
    input:
        samples=f"{EXP}/samples/{PART}/{{block}}.parquet",
        problems=problems_table,
        model=scorer_model,
        identity=lambda w: tplan.identity_file(config, "score", w.scorer),
    output:
        f"{EXP}/scores/scorer={{scorer}}/{PART}/{{block}}.parquet",
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/score/{{scorer}}/{PART}/{{block}}.log",
    benchmark:
        f"{BENCH}/score/{{scorer}}/{PART}/{{block}}.tsv"
    resources:
        # from the scorer's engine (ttscale.resources); the profile adds partition and GPU type
        gpu=lambda w: score_resources(w)["gpu"],
        cpus_per_task=lambda w: score_resources(w)["cpus_per_task"],
        mem_mb=lambda w: score_resources(w)["mem_mb"],
        # one node, one task: vLLM starts its own worker per GPU (the SLURM plugin 2.6 would
        # otherwise ask for a task per GPU, each with cpus_per_task CPUs)
        nodes=1,
        tasks_per_gpu=0,
    group:
        "score"
    script:
        "../scripts/score.py"


use rule score as score_free with:
    input:
        samples=f"{EXP}/samples/{PART}/{{block}}.parquet",
        problems=problems_table,
        identity=lambda w: tplan.identity_file(config, "score", w.scorer),
    wildcard_constraints:
        # the model-free scorers by name; a pattern that matches nothing when there are none
        scorer="|".join(re.escape(s) for s in FREE_SCORERS) or "(?!)",
    resources:
        # replaces score's resources: no GPU; CPUs, memory and partition from the profile
        gpu=0,
    group:
        "score_free"


ruleorder: score_free > score


ALL_TARGETS += [
    p
    for scorer in config["scorers"]
    for run in tplan.scored_runs(config, RUNS, scorer)
    for p in stage_shards("scores", run, scorer)
]
