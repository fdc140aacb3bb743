# Imperfect verifiers (ttscale.analysis.imperfect, docs/analysis.md): for the runs of datasets with extended
# tests, every curve under the base and the extended tests, false-positive rates per problem and per run, the
# inflation of coverage against k and the ceiling of resampling with the base tests as verifier; then the
# report's section (ttscale.report.imperfect): one figure per dataset and two tables, registered with report().

from ttscale.report.imperfect import report_entries as imperfect_entries

IMPERFECT_RUNS = sorted((r for r in RUNS if r.dataset in EXTENDED_IDENTITY), key=lambda r: r.partition())
IMPERFECT_TABLES = ["curves", "problems", "summary"]
IMPERFECT_OUTPUTS = [report(p, **kw) for p, kw in
                     imperfect_entries(f"{EXP}/report", sorted({r.dataset for r in IMPERFECT_RUNS}))]


rule imperfect:
    input:
        samples=[f"{EXP}/aggregate/{r.partition()}/samples.parquet" for r in IMPERFECT_RUNS],
        problems=[f"{EXP}/aggregate/{r.partition()}/problems.parquet" for r in IMPERFECT_RUNS],
    output:
        **{t: f"{EXP}/analysis/imperfect_{t}.parquet" for t in IMPERFECT_TABLES},
    params:
        settings=tkeys.canonical(ANALYSIS),
        seed=config["seed"],
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/imperfect/imperfect.log",
    script:
        "../scripts/imperfect.py"


rule imperfect_report:
    input:
        **{t: f"{EXP}/analysis/imperfect_{t}.parquet" for t in IMPERFECT_TABLES},
    output:
        IMPERFECT_OUTPUTS,
    params:
        settings=tkeys.canonical(config["report"]),
        datasets=sorted({r.dataset for r in IMPERFECT_RUNS}),
        out_dir=lambda w, output: str(Path(output[0]).parents[1]),
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/report/imperfect.log",
    script:
        "../scripts/imperfect_report.py"


if IMPERFECT_RUNS:
    ALL_TARGETS += [str(p) for p in IMPERFECT_OUTPUTS]


# The math analogue (ttscale.verify.judgement): per run of a dataset judged by the math verifier, the samples
# whose verdict depends on the extraction rule or rests on math-verify's equivalence, listed and counted (by
# the run's analyze job, analyze.smk), then reported.

from ttscale.report.imperfect import judgement_files

JUDGEMENT_RUNS = [r for r in sorted(RUNS, key=lambda r: r.partition()) if r.dataset in MATH_DATASETS]
JUDGEMENT_OUTPUTS = [report(p, **kw) for p, kw in judgement_files(f"{EXP}/report")]


rule judgement_report:
    input:
        summaries=[f"{EXP}/analysis/{r.partition()}/judgement_summary.parquet" for r in JUDGEMENT_RUNS],
        samples=[f"{EXP}/analysis/{r.partition()}/judgement_samples.parquet" for r in JUDGEMENT_RUNS],
    output:
        JUDGEMENT_OUTPUTS,
    params:
        settings=tkeys.canonical(config["report"]),
        out_dir=lambda w, output: str(Path(output[0]).parents[1]),
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/report/judgement.log",
    script:
        "../scripts/judgement_report.py"


if JUDGEMENT_RUNS:
    ALL_TARGETS += [str(p) for p in JUDGEMENT_OUTPUTS]
