# Extended tests of each code dataset (schema: ttscale.schemas.EXTENDED; ttscale.verify.extended): new
# inputs per problem, by type-aware mutation of its tests' inputs or from the dataset's EvalPlus file, with
# expected outputs from the reference solution in the sandbox. The param is what decides the table
# (settings, experiment seed, the file's SHA-256); the problem table and the file are inputs, so a grown
# problem table extends its new problems (each problem's inputs come from its own seed, so the old rows stay
# the same). verify reads the table as an ancient() input and its identity holds the same settings.

rule extend:
    input:
        problems=f"{EXP}/problems/{{dataset}}.parquet",
        files=lambda w: [f] if (f := textended.settings_of(config, w.dataset).get("file")) else [],
    output:
        f"{EXP}/extended/{{dataset}}.parquet",
    params:
        identity=lambda w: EXTENDED_IDENTITY[w.dataset],
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/extend/{{dataset}}.log",
    script:
        "../scripts/extend.py"


ALL_TARGETS += expand(f"{EXP}/extended/{{dataset}}.parquet", dataset=sorted(EXTENDED_IDENTITY))
