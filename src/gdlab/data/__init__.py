"""Datasets for gdlab: synthetic generators, bundled scikit-learn sets, CSV files, splits.

This is the library side of the ``make_dataset`` and ``split`` pipeline steps, in one
module per concern:

- :mod:`gdlab.data.core`: :class:`Dataset`, :class:`Split` (labels 0..K-1), files,
  :func:`split_dataset`, :func:`dataset_fingerprint`;
- :mod:`gdlab.data.synthetic`, :mod:`gdlab.data.bundled`, :mod:`gdlab.data.csv_file`:
  where a :class:`Dataset` comes from.

Everything is re-exported here for users. Pipeline code imports from the submodule it
needs, so that its code identity (:func:`gdlab.codeversion.code_version`) holds only that
code: a job that reads a split does not depend on the CSV reader.
"""

from gdlab.data.bundled import SKLEARN_N_CLASSES, SKLEARN_TASKS, load_sklearn
from gdlab.data.core import (
    TASKS,
    Dataset,
    Split,
    dataset_fingerprint,
    load_dataset,
    load_split,
    save_dataset,
    save_split,
)
from gdlab.data.csv_file import MIN_CSV_ROWS, load_csv
from gdlab.data.split import split_dataset
from gdlab.data.synthetic import SYNTHETIC_TASKS, make_synthetic

__all__ = [
    "MIN_CSV_ROWS",
    "SKLEARN_N_CLASSES",
    "SKLEARN_TASKS",
    "SYNTHETIC_TASKS",
    "TASKS",
    "Dataset",
    "Split",
    "dataset_fingerprint",
    "load_csv",
    "load_dataset",
    "load_sklearn",
    "load_split",
    "make_synthetic",
    "save_dataset",
    "save_split",
    "split_dataset",
]
