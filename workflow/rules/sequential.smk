# Reasoning models: thinking longer (budget forcing) against sampling more at equal FLOPs, and the
# compute-optimal split per difficulty bin (docs/reasoning.md). Only for configs that run budget
# forcing, so every other report stays as it is.

from ttscale.reasoning import has_budget_forcing
from ttscale.reasoning import report_files as sequential_files

if has_budget_forcing(config):
    SEQ_RUNS = sorted(
        (r for r in RUNS if r.strategy is None or config["strategies"][r.strategy]["kind"] == "budget_forcing"),
        key=lambda r: r.partition(),
    )
    SEQ_DATASETS = sorted({r.dataset for r in SEQ_RUNS if r.strategy})

    rule sequential:
        input:
            values=[f"{EXP}/analysis/{r.partition()}/values.parquet" for r in SEQ_RUNS],
            samples=[f"{EXP}/aggregate/{r.partition()}/samples.parquet" for r in SEQ_RUNS],
        output:
            points=f"{EXP}/analysis/sequential_points.parquet",
            optimal=f"{EXP}/analysis/sequential.parquet",
        params:
            settings=tkeys.canonical(ANALYSIS),
            seed=config["seed"],
            runs=tkeys.canonical(
                [
                    {
                        "values": f"{EXP}/analysis/{r.partition()}/values.parquet",
                        "samples": f"{EXP}/aggregate/{r.partition()}/samples.parquet",
                        "thinking_budget": config["strategies"][r.strategy]["thinking_budget"] if r.strategy else None,
                    }
                    | ident
                    for r in SEQ_RUNS
                    for ident in run_identities(r)
                ]
            ),
        conda:
            "../envs/ttscale.yaml"
        log:
            f"{LOGS}/sequential/sequential.log",
        script:
            "../scripts/sequential.py"

    rule sequential_report:
        input:
            points=f"{EXP}/analysis/sequential_points.parquet",
            optimal=f"{EXP}/analysis/sequential.parquet",
        output:
            [
                report(p, caption="../report/sequential.rst", category="Reasoning")
                for p in sequential_files(f"{EXP}/report", SEQ_DATASETS)
            ],
        params:
            settings=tkeys.canonical(config["report"]),
            datasets=SEQ_DATASETS,
            out_dir=lambda w, output: str(Path(output[-1]).parents[1]),  # R/report (from tables/sequential.tex)
        conda:
            "../envs/ttscale.yaml"
        log:
            f"{LOGS}/report/sequential.log",
        script:
            "../scripts/sequential_report.py"

    ALL_TARGETS += sequential_files(f"{EXP}/report", SEQ_DATASETS)


# Thinking and answer apart in tokens, FLOPs and dollars, for every run of a reasoning model.
REASONING_RUNS = sorted((r for r in RUNS if config["models"][r.model].get("reasoning")), key=lambda r: r.partition())

if REASONING_RUNS:

    rule thinking_costs:
        input:
            [f"{EXP}/aggregate/{r.partition()}/samples.parquet" for r in REASONING_RUNS],
        output:
            f"{EXP}/analysis/thinking_costs.parquet",
        params:
            runs=tkeys.canonical(
                [
                    {"samples": f"{EXP}/aggregate/{r.partition()}/samples.parquet"} | ident
                    for r in REASONING_RUNS
                    for ident in run_identities(r)
                ]
            ),
            models=lambda w: tkeys.canonical(
                {m: tkeys.analysis_model_spec(config["models"][m]) for m in sorted({r.model for r in REASONING_RUNS})}
            ),
        conda:
            "../envs/ttscale.yaml"
        log:
            f"{LOGS}/analyze/thinking_costs.log",
        script:
            "../scripts/thinking_costs.py"

    ALL_TARGETS.append(f"{EXP}/analysis/thinking_costs.parquet")
