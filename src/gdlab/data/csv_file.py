"""Datasets from the user's CSV files, with errors that name the column and the line.

Problems name the column and the line, counted as in a text editor or spreadsheet: the
header is line 1, so the first data row is line 2. pandas is imported inside the
functions that read: importing this module stays cheap.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from gdlab.data.core import TASKS, Dataset, int_arg

#: A CSV dataset needs at least this many data rows.
MIN_CSV_ROWS = 10

# Cell texts read as "missing" rather than "non-numeric" (compared lower-cased, stripped).
_MISSING_TOKENS = frozenset(
    {"na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#na", "missing", "?"}
)


def _cell_problem(raw: str) -> str:
    """Why a cell that did not parse as a finite number is bad."""
    text = raw.strip()
    if not text:
        return "empty cell (missing value)"
    if text.lower() in _MISSING_TOKENS:
        return f"missing value {raw!r}"
    try:
        value = float(text)
    except ValueError:
        return f"non-numeric value {raw!r}"
    if not math.isfinite(value):
        return f"non-finite value {raw!r}"
    return f"unreadable value {raw!r}"


def _parse_numeric(series: Any) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64, mask of cells that are not finite numbers)."""
    import pandas as pd

    parsed = pd.to_numeric(series, errors="coerce")
    values = np.asarray(parsed, dtype=np.float64)
    return values, ~np.isfinite(values)


def _line(lines: np.ndarray, header_line: int, row: int) -> str:
    """A data row as named in messages: its line number in the file."""
    return f"line {int(lines[row])} (the header is line {header_line})"


def _first_bad_cell(
    path: str,
    columns: list[str],
    raw: Any,
    bad: np.ndarray,
    lines: np.ndarray,
    header_line: int,
    note: str = "",
) -> ValueError:
    """Error for the first bad cell in file order (row by row, left to right)."""
    rows, cols = np.nonzero(bad)  # row-major order: the first hit is the first in the file
    r, c = int(rows[0]), int(cols[0])
    column = columns[c]
    value = raw[column].iloc[r]
    more = len(rows) - 1
    tail = f" ({more} more bad cell{'s' if more != 1 else ''} in the file)" if more else ""
    return ValueError(
        f"{path}: column {column!r}{note}, {_line(lines, header_line, r)}: "
        f"{_cell_problem(value)}{tail}"
    )


def _read_csv_cells(path: str) -> tuple[list[str], Any, np.ndarray, int]:
    """Header names, data cells as raw strings, each data row's line number, header line."""
    import pandas as pd

    if not os.path.exists(path):
        raise ValueError(f"{path}: file not found")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not a regular file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: file is empty")
    try:
        # pandas cannot take its column count from a blank line: skip leading ones.
        leading_blank = 0
        with open(path, encoding="utf-8-sig") as fh:
            for text in fh:
                if text.strip():
                    break
                leading_blank += 1
            else:
                raise ValueError(f"{path}: file is empty (only blank lines)")
        # Everything as text, nothing turned into NaN and blank lines kept, so that row i
        # of the frame is line leading_blank + i + 1 of the file.
        frame = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skiprows=leading_blank,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file is empty (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV file: {exc}") from None
    lines = np.arange(leading_blank + 1, leading_blank + len(frame) + 1)
    # Rows whose cells are all empty are blank lines: skip them (the line numbers stay).
    blank = (frame.apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    frame, lines = frame[~blank], lines[~blank]
    if len(frame) == 0:
        raise ValueError(f"{path}: file is empty (no header line)")
    header = [str(h).strip() for h in frame.iloc[0]]
    for i, name in enumerate(header):
        if not name:
            raise ValueError(f"{path}: column {i + 1} has an empty name in the header line")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate column names in the header: {duplicates}")
    cells = frame.iloc[1:].reset_index(drop=True)
    cells.columns = header
    return header, cells, lines[1:], int(lines[0])


def _csv_classes(
    path: str, target: str, raw: Any, lines: np.ndarray, header_line: int, n_classes: int
) -> tuple[np.ndarray, tuple]:
    """Map a target column of ``n_classes`` values to 0..K-1 (sorted order); return the labels."""
    text = raw.str.strip()
    empty = (text == "").to_numpy()
    if empty.any():
        r = int(np.flatnonzero(empty)[0])
        raise ValueError(
            f"{path}: column {target!r} (the target), {_line(lines, header_line, r)}: "
            "empty cell (missing value)"
        )
    values, bad = _parse_numeric(text)
    if not bad.any():
        # Numeric labels: "3" and "3.0" are the same class; integral values become ints.
        uniques = np.unique(values)
        if all(v.is_integer() and abs(v) < 2**53 for v in uniques.tolist()):
            labels: list = [int(v) for v in uniques.tolist()]
        else:
            labels = uniques.tolist()
        codes = np.searchsorted(uniques, values)
    else:
        labels = sorted(set(text.tolist()))
        codes = np.searchsorted(np.array(labels), text.to_numpy(dtype=str))
    kind = "binary classification needs two" if n_classes == 2 else \
        f"n_classes is {n_classes}: the column needs {n_classes}"
    if len(labels) == 1:
        raise ValueError(
            f"{path}: target column {target!r} has only one class ({labels[0]!r}); {kind}"
        )
    if len(labels) != n_classes:
        shown = ", ".join(repr(v) for v in labels[:5]) + (", ..." if len(labels) > 5 else "")
        raise ValueError(
            f"{path}: target column {target!r}: {kind} classes, found {len(labels)} ({shown})"
        )
    return codes.astype(np.int64), tuple(labels)


def load_csv(path: str | os.PathLike, target: str, task: str, n_classes: int = 2) -> Dataset:
    """Read a CSV file with a header line; every column except ``target`` is a feature.

    Features (and a regression target) must be finite numbers in every row. A
    classification target must take exactly ``n_classes`` values (K, two by default), of
    any kind ("no"/"yes", 3/7, "setosa"/...): they become 0..K-1 in sorted order and are
    kept in ``Dataset.classes``. K is given rather than discovered so that a pipeline
    knows, before reading the file, which models can fit it. Completely
    blank lines are skipped. Problems raise ``ValueError`` starting with the path and
    naming the column and the line in the file (the header is line 1, so the first data
    row is line 2, as in a spreadsheet; quoted fields containing line breaks would shift
    this count).
    """
    path = os.fspath(path)
    if task not in TASKS:
        raise ValueError(f"{path}: task must be one of {list(TASKS)}, got {task!r}")
    n_classes = int_arg(n_classes, "n_classes", path, 2)
    header, cells, lines, header_line = _read_csv_cells(path)
    if target not in header:
        raise ValueError(f"{path}: target column {target!r} not found; available columns: {header}")
    features = [h for h in header if h != target]
    if not features:
        raise ValueError(f"{path}: no feature columns besides the target {target!r}")
    if len(cells) < MIN_CSV_ROWS:
        raise ValueError(
            f"{path}: only {len(cells)} data row{'s' if len(cells) != 1 else ''}; "
            f"at least {MIN_CSV_ROWS} are needed"
        )

    numeric_columns = features if task == "classification" else features + [target]
    parsed = [_parse_numeric(cells[c]) for c in numeric_columns]
    bad = np.column_stack([b for _, b in parsed])
    if task == "regression" and bad[:, -1].any():
        raise _first_bad_cell(
            path,
            [target],
            cells,
            bad[:, -1:],
            lines,
            header_line,
            note=" (the target; a regression target must be numeric)",
        )
    if bad.any():
        raise _first_bad_cell(path, numeric_columns, cells, bad, lines, header_line)
    X = np.column_stack([v for v, _ in parsed[: len(features)]])
    if task == "regression":
        y, classes = parsed[-1][0], ()
    else:
        y, classes = _csv_classes(path, target, cells[target], lines, header_line, n_classes)
    return Dataset(X=X, y=y, task=task, feature_names=tuple(features), classes=classes)
