# One shard of samples per block (schema: ttscale.schemas.SAMPLES). The block's identity is its
# path (sampling key + block name), so the script reads the config rather than params: engine
# settings that only change speed must not trigger reruns. For a dataset that lists its `ids`, the
# ids at the block's problem positions are an identity file (ttscale.plan.ids_file; identity.smk):
# replacing or reordering ids reruns exactly the blocks whose problems changed.


rule generate:
    input:
        problems=problems_table,
        model=built_model,
        ids=lambda w: tplan.ids_file(config, w.dataset, w.block),
        # a later round of an adaptive run: the decision naming its problems (adaptive.smk)
        decision=round_decision,
    output:
        f"{EXP}/samples/{PART}/{{block}}.parquet",
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/generate/{PART}/{{block}}.log",
    benchmark:
        f"{BENCH}/generate/{PART}/{{block}}.tsv"
    resources:
        # from the model's engine (ttscale.resources); the profile adds partition and GPU type
        gpu=lambda w: generate_resources(w)["gpu"],
        cpus_per_task=lambda w: generate_resources(w)["cpus_per_task"],
        mem_mb=lambda w: generate_resources(w)["mem_mb"],
        # one node, one task: vLLM starts its own worker per GPU (the SLURM plugin 2.6 would
        # otherwise ask for a task per GPU, each with cpus_per_task CPUs)
        nodes=1,
        tasks_per_gpu=0,
    group:
        "generate"
    script:
        "../scripts/generate.py"


ALL_TARGETS += [path for run in RUNS for path in stage_shards("samples", run)]
