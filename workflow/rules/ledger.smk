# The compute ledger (ttscale.ledger): FLOPs of every model call of every run (sampling,
# reward models and judges, a search's PRM steps and rollouts) from the tokens each processed, the
# sandboxes' seconds from the verdicts, and per stage the measured wall time, CPU time and GPU-hours
# from the jobs' benchmark files beside the estimated FLOPs. The benchmark files are read when the
# job runs (they are not inputs: a job's benchmark is written after its outputs); any rerun upstream
# changes an aggregate table and so reruns the ledger.


from ttscale.ledger import ledger_runs

LEDGER_RUNS = ledger_runs(config, RUNS, RUN_SCORERS, FREE_SCORERS)
ADAPTIVE_LEDGER_RUNS = [r for r in LEDGER_RUNS if (r["model"], r["dataset"], r["sampling"]) in ADAPTIVE]


rule ledger:
    input:
        # a run's aggregate follows every shard the ledger reads (its params), so one file per run
        # orders the job; an adaptive run's later rounds are known only from its decisions, which
        # this input waits for (a param may depend on a checkpoint only through an input)
        samples=[r["samples"] for r in LEDGER_RUNS],
        rounds=lambda w: [p for r in with_rounds(ADAPTIVE_LEDGER_RUNS) for p in r["verdict_shards"]],
    output:
        ledger=f"{EXP}/analysis/ledger.parquet",
        measured=f"{EXP}/analysis/measured.parquet",
        ledger_md=report(f"{EXP}/report/tables/ledger.md", caption="../report/table_ledger.rst",
                         category="Tables", labels={"table": "compute ledger"}),
        ledger_csv=f"{EXP}/report/tables/ledger.csv",
        measured_md=report(f"{EXP}/report/tables/measured.md", caption="../report/table_measured.rst",
                           category="Tables", labels={"table": "measured compute"}),
        measured_csv=f"{EXP}/report/tables/measured.csv",
    params:
        runs=lambda w: with_rounds(LEDGER_RUNS),  # every round's shards of an adaptive run
        bench=BENCH,
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/ledger/ledger.log",
    script:
        "../scripts/ledger.py"


ALL_TARGETS += [f"{EXP}/analysis/ledger.parquet", f"{EXP}/analysis/measured.parquet"]
