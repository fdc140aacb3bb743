"""Running Snakemake on a scratch copy of the workflow and reading what it plans."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
_RULE = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):\s*$")
_OUTPUT = re.compile(r"^\s+output: (.*)$")
_JOB_FIELD = re.compile(r"^\s+(wildcards|resources): (.*)$")


def write_config(workdir: Path, config: dict, name: str = "test.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, configfile: Path, *args: str, check: bool = True, timeout: int = 1800,
              env: dict[str, str] | None = None, profile: str = "profiles/local") -> str:
    cmd = [SNAKEMAKE, "--profile", profile, "--configfile", str(configfile), "--cores", "2", *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{out[-6000:]}")
    return out


def log_jobs(out: str) -> list[dict[str, str]]:
    """Every job of a Snakemake console log (a dry run's or a real run's): its rule, wildcards and resources."""
    jobs: list[dict[str, str]] = []
    for line in out.splitlines():
        if m := _RULE.match(line):
            jobs.append({"rule": m.group(1)})
        elif jobs and (m := _JOB_FIELD.match(line)):
            jobs[-1][m.group(1)] = m.group(2)
    return jobs


def planned(workdir: Path, configfile: Path, *args: str) -> dict[str, list[str]]:
    """rule -> outputs of the jobs a dry run plans (empty dict when nothing is to be done)."""
    out = snakemake(workdir, configfile, "-n", *args)
    jobs: dict[str, list[str]] = defaultdict(list)
    rule = None
    for line in out.splitlines():
        if m := _RULE.match(line):
            rule = m.group(1)
            jobs[rule]  # a job without outputs still counts
        elif rule and (m := _OUTPUT.match(line)):
            jobs[rule].extend(m.group(1).split(", "))
            rule = None
    jobs.pop("all", None)
    return dict(jobs)
