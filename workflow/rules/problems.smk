# One Parquet problem table per dataset (schema: ttscale.schemas.PROBLEMS). The param is what decides
# the table (ttscale.keys.problems_identity: loader, args, selection, resolved task, the prompt with
# the few-shot file's contents), in canonical form; what only says how the dataset is sampled
# (samples_per_problem, sampling presets, models, exclude) is left out, so raising the sample count
# does not rebuild the table. The local files the table is read from (few-shot file, a jsonl or
# parquet loader's data) are inputs: editing one rebuilds the table. The script reads the dataset's
# spec from the config.

PROBLEMS_IDENTITY = {d: tkeys.identity_json(tkeys.problems_identity(d, ds)) for d, ds in config["datasets"].items()}


rule problems:
    input:
        files=lambda w: tplan.dataset_files(config, w.dataset),
    output:
        f"{EXP}/problems/{{dataset}}.parquet",
    params:
        identity=lambda w: PROBLEMS_IDENTITY[w.dataset],
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/problems/{{dataset}}.log",
    script:
        "../scripts/problems.py"


ALL_TARGETS += expand(f"{EXP}/problems/{{dataset}}.parquet", dataset=config["datasets"])
