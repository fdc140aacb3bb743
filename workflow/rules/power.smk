# Power analysis (ttscale.analysis.power; docs/analysis.md): for each comparison of `power:`, the
# power of every planned design, with this experiment's own runs as the pilot. Only when the config
# states comparisons; `ttscale power` does the same outside Snakemake on any experiment's shards.

from ttscale.analysis.power_cli import pilot_shards

POWER_TABLES = [f"{EXP}/report/tables/{t}.{ext}" for t in ("power", "power_designs") for ext in ("csv", "md", "tex")]

if (config.get("power") or {}).get("comparisons"):

    rule power:
        input:
            pilot_shards(config),
        output:
            [
                report(p, caption="../report/table_power.rst", category="Tables", subcategory=Path(p).stem,
                       labels={"table": Path(p).stem, "format": Path(p).suffix.lstrip(".")})
                for p in POWER_TABLES
            ],
        params:
            settings=tkeys.canonical(config["power"]),
            out_dir=lambda w, output: str(Path(output[0]).parent),
            digits=config["report"].get("digits", 4),
        conda:
            "../envs/ttscale.yaml"
        log:
            f"{LOGS}/power/power.log",
        script:
            "../scripts/power.py"

    ALL_TARGETS += POWER_TABLES
