"""The ``gdlab`` command (also ``python -m gdlab``): reading a project's results from a
terminal.

``gdlab overview [RESULTS]`` prints ``RESULTS/overview.csv`` (default ``results/``), each
sweep's best run beside scikit-learn's, as an aligned table. The file is read with the
csv module, so a cell holding a comma cannot move the columns (as ``column -s,`` does).

``gdlab check-config [OVERLAY ...]`` checks ``config/config.yaml`` merged with the overlays
as ``snakemake --configfile`` merges them, naming a file that is not YAML with its line
(Snakemake reads an overlay before any gdlab code runs, and its message names neither).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from gdlab.console import aligned

#: overview.csv's numeric columns: right-aligned
NUMERIC = ("gdlab_best", "sklearn_default", "objective_gap", "runs", "diverged",
           "oscillating")


def overview_table(path: Path) -> list[str]:
    """``overview.csv`` as aligned lines: its header, then one line per sweep."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty: run snakemake again to make it")
        rows = list(reader)
    bad = [i for i, row in enumerate(rows, 2) if len(row) != len(header)]
    if bad:
        raise ValueError(f"{path}, line {bad[0]}: {len(rows[bad[0] - 2])} cells under "
                         f"{len(header)} columns; run snakemake again to remake it")
    right = [i for i, name in enumerate(header) if name in NUMERIC]
    return aligned(header, rows, right=right, indent="")


def check_config(overlays: list[str], base: str = "config/config.yaml") -> int:
    """Exit status of ``gdlab check-config``: 0 and "valid" or 1 and every problem."""
    from snakemake.utils import update_config

    from gdlab.config import ConfigError, load_schema, read_yaml_config, validate_config

    try:
        config = read_yaml_config(base)
        for path in overlays:
            update_config(config, read_yaml_config(path))  # as --configfile merges it
        validate_config(config, load_schema(Path(base).parent / "schema.yaml"))
    except ConfigError as err:
        print(f"gdlab: {err}", file=sys.stderr)
        return 1
    print(f"gdlab: the config is valid ({', '.join([base, *overlays])})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gdlab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ov = sub.add_parser("overview", help="each sweep's best run beside scikit-learn's, "
                        "as an aligned table (results/overview.csv)")
    ov.add_argument("results", nargs="?", default="results",
                    help="the results folder (default: results)")
    check = sub.add_parser("check-config", help="check config/config.yaml merged with "
                           "overlays (--configfile), naming the file and line of any error")
    check.add_argument("overlays", nargs="*", help="overlay files, in --configfile order")
    args = parser.parse_args(argv)
    if args.command == "check-config":
        return check_config(args.overlays)
    path = Path(args.results) / "overview.csv"
    if not path.is_file():
        print(f"gdlab: no {path}: run `snakemake --cores 2` first", file=sys.stderr)
        return 1
    try:
        print("\n".join(overview_table(path)))
    except ValueError as e:
        print(f"gdlab: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
