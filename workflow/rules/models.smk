# Build models that the config marks with `build:` (the embedded SmolLM2 default, the test reward
# models), once, under resources/.

BUILT_MODELS = tplan.built_models(config)
for _path in BUILT_MODELS:
    if not _path.startswith("resources/models/"):
        raise WorkflowError(f"ttscale: a model with `build:` must have its path under resources/models/, got {_path}")


rule build_model:
    output:
        directory("resources/models/{model_dir}"),
    params:
        builder=lambda w: BUILT_MODELS[f"resources/models/{w.model_dir}"],
    conda:
        "../envs/ttscale.yaml"
    log:
        "resources/models/logs/{model_dir}.log",
    script:
        "../scripts/build_model.py"
