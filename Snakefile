# ttscale: inference-scaling experiments as an incremental Snakemake workflow.
# Stages: problems -> generate -> verify -> score -> aggregate -> analyze -> report.
# See README.md to run it and docs/architecture.md for the files each stage writes.

from snakemake.utils import min_version

min_version("9.0")


# The embedded default, unless the user names their own config with --configfile (then theirs
# replaces it instead of being merged into it, so no default dataset or model leaks in).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# `snakemake --report report.html` collects every report() artifact under this description.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/identity.smk"
include: "workflow/rules/adaptive.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/problems.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/extend.smk"
include: "workflow/rules/verify.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/ledger.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/imperfect.smk"
include: "workflow/rules/sequential.smk"
include: "workflow/rules/power.smk"


rule all:
    input:
        ALL_TARGETS,
    default_target: True
