# The paper artifacts: figures (PNG) and tables (CSV, Markdown, LaTeX) in R/report/, every file
# registered with report() so that `snakemake --report report.html` collects them into one HTML
# report (captions in workflow/report/; which files and their labels: ttscale.report.report_entries).

from ttscale.report import INPUTS as REPORT_INPUTS
from ttscale.report import report_entries

REPORT_DATASETS = sorted({r.dataset for r in RUNS})
REPORT_OUTPUTS = [report(p, **kw) for p, kw in report_entries(f"{EXP}/report", REPORT_DATASETS)]


rule report:
    input:
        **{t: f"{EXP}/analysis/{t}.parquet" for t in REPORT_INPUTS},
    output:
        REPORT_OUTPUTS,
    params:
        settings=tkeys.canonical(config["report"]),
        out_dir=lambda w, output: str(Path(output[0]).parents[1]),
    conda:
        "../envs/ttscale.yaml"
    log:
        f"{LOGS}/report/report.log",
    script:
        "../scripts/report.py"


ALL_TARGETS += [str(p) for p in REPORT_OUTPUTS]
