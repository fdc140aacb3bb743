# Adaptive mode (datasets.<d>.adaptive; ttscale.analysis.rounds, docs/analysis.md): a run samples in
# rounds. Round 0 is planned like any run; after round r - 1 is verified, the checkpoint
# adaptive_round writes R/adaptive/<run>/round<r>.json, the problems that get round r, and Snakemake
# re-plans: round r's blocks take that file as their input (their identity, like an `ids` dataset's
# ids file), and the aggregate of the run waits for every round. A finished round's shards and
# decision stay on disk, so a rerun redoes nothing of them and a run killed mid-round resumes.

from ttscale.analysis import rounds as trounds

ADAPTIVE = {(r.model, r.dataset, r.key): r for r in RUNS if r.ends is not None}


def adaptive_run(wildcards):
    """The adaptive Run of a (model, dataset, sampling) wildcard set, or None."""
    return ADAPTIVE.get((wildcards.model, wildcards.dataset, wildcards.sampling))


def decision_file(run, r):
    return trounds.decision_path(EXP, run.partition(), r)


def adaptive_rounds(run, upto):
    """(blocks, decisions) of rounds 0..upto-1; each later round waits for its checkpoint."""
    ends = np.array(run.ends)
    blocks, decisions = list(run.blocks), []
    for r in range(1, min(upto, len(ends))):
        path = checkpoints.adaptive_round.get(model=run.model, dataset=run.dataset, sampling=run.key,
                                              round=f"{r:02d}").output[0]
        d = trounds.read_decision(path)
        decisions.append(d)
        if not d["selected"]:
            break
        blocks += trounds.round_blocks(ends, r, run.n_problems, config["block_size"], config["problems_per_block"],
                                       d["positions"])
    return blocks, decisions


def run_shards(wildcards, stage, scorer=None):
    """A run's shards of a stage: the planned blocks, or every round's of an adaptive run."""
    run = run_of(wildcards)
    if run.ends is None:
        return stage_shards(stage, run, scorer)
    return [tplan.shard(config, stage, run, b, scorer) for b in adaptive_rounds(run, len(run.ends))[0]]


def run_score_files(wildcards):
    """scorer -> this run's score shards (every round's for an adaptive run)."""
    return {s: run_shards(wildcards, "scores", s) for s in run_scorers(wildcards)}


def planned_samples(wildcards):
    """What the aggregate checks: samples per problem, or per problem id for an adaptive run."""
    run = run_of(wildcards)
    if run.ends is None:
        return run.samples_per_problem
    import pyarrow.parquet as pq

    decisions = adaptive_rounds(run, len(run.ends))[1]
    pids = pq.read_table(f"{EXP}/problems/{run.dataset}.parquet", columns=["problem_id"])["problem_id"].to_pylist()
    return trounds.planned_counts(np.array(run.ends), pids, decisions)


def with_rounds(run_dicts):
    """Run descriptions ({model, dataset, sampling, sample_shards, verdict_shards, ...}) with every
    round's shards for the adaptive runs (the ledger's inputs)."""
    out = []
    for d in run_dicts:
        run = ADAPTIVE.get((d["model"], d["dataset"], d["sampling"]))
        if run is not None:
            blocks = adaptive_rounds(run, len(run.ends))[0]
            d = {**d, "sample_shards": [tplan.shard(config, "samples", run, b) for b in blocks],
                 "verdict_shards": [tplan.shard(config, "verdicts", run, b) for b in blocks]}
        out.append(d)
    return out


def round_decision(wildcards):
    """The decision file a block of a later round reads its problems from (none for round 0 and
    uniform runs)."""
    run = adaptive_run(wildcards)
    if run is None:
        return []
    r = trounds.round_of(np.array(run.ends), tblocks.Block.parse(wildcards.block))
    return [decision_file(run, r)] if r else []


def adaptive_settings(wildcards):
    """The analysis of an adaptive run: its schedule (None for a uniform run)."""
    run = run_of(wildcards)
    return None if run.ends is None else {"ends": list(run.ends)}


checkpoint adaptive_round:
    input:
        problems=problems_table,
        verdicts=lambda w: [tplan.shard(config, "verdicts", adaptive_run(w), b)
                            for b in adaptive_rounds(adaptive_run(w), int(w.round))[0]],
        previous=lambda w: [decision_file(adaptive_run(w), int(w.round) - 1)] if int(w.round) > 1 else [],
    output:
        f"{EXP}/adaptive/{PART}/round{{round}}.json",
    wildcard_constraints:
        round=r"\d\d",
    params:
        settings=lambda w: tkeys.canonical(trounds.settings_of(config, w.dataset)),
        target=lambda w: adaptive_run(w).samples_per_problem,
    log:
        f"{LOGS}/adaptive/{PART}/round{{round}}.log",
    localrule: True
    conda:
        "../envs/ttscale.yaml"
    script:
        "../scripts/adaptive_round.py"
