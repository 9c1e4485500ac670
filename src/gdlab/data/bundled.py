"""The small datasets that ship inside scikit-learn (no download).

scikit-learn is imported inside :func:`load_sklearn` only: it takes seconds to import.
"""

from __future__ import annotations

import numpy as np

from gdlab.data.core import Dataset

SKLEARN_TASKS = {
    "breast_cancer": "classification",
    "diabetes": "regression",
    "iris_binary": "classification",
    "wine_binary": "classification",
    "iris": "classification",
    "wine": "classification",
    "digits": "classification",
}

#: K of each classification set, known without loading it (to pair it with models)
SKLEARN_N_CLASSES = {"breast_cancer": 2, "iris_binary": 2, "wine_binary": 2,
                     "iris": 3, "wine": 3, "digits": 10}


def load_sklearn(name: str) -> Dataset:
    """One of the small datasets shipped inside scikit-learn (:data:`SKLEARN_TASKS`).

    * ``breast_cancer``: malignant (0) vs benign (1), 30 features.
    * ``diabetes``: regression (scikit-learn's scaled features), 10 features.
    * ``iris_binary``: versicolor (0) vs virginica (1), all 4 features, 100 rows
      (setosa is left out: it is linearly separable from the rest).
    * ``wine_binary``: cultivar ``class_0`` (0) vs the other two (``rest``, 1).
    * ``iris``: the three species (setosa, versicolor, virginica), 4 features, 150 rows.
    * ``wine``: the three cultivars, 13 features, 178 rows.
    * ``digits``: 8x8 images of the digits 0-9 (10 classes), 64 pixel features, 1797 rows.
    """
    if name not in SKLEARN_TASKS:
        raise ValueError(
            f"load_sklearn: unknown dataset {name!r}; choose one of {sorted(SKLEARN_TASKS)}"
        )
    from sklearn import datasets  # lazy: importing scikit-learn is slow

    if name == "breast_cancer":
        bunch = datasets.load_breast_cancer()
        X, y = bunch.data, bunch.target
        classes = tuple(str(c) for c in bunch.target_names)
    elif name == "diabetes":
        bunch = datasets.load_diabetes()
        X, y = bunch.data, bunch.target
        classes = ()
    elif name == "iris_binary":
        bunch = datasets.load_iris()
        keep = bunch.target != 0
        X, y = bunch.data[keep], bunch.target[keep] - 1
        classes = (str(bunch.target_names[1]), str(bunch.target_names[2]))
    elif name == "wine_binary":
        bunch = datasets.load_wine()
        X, y = bunch.data, (bunch.target != 0).astype(np.int64)
        classes = (str(bunch.target_names[0]), "rest")
    else:  # a multiclass set, as scikit-learn ships it
        bunch = {"iris": datasets.load_iris, "wine": datasets.load_wine,
                 "digits": datasets.load_digits}[name]()
        X, y = bunch.data, bunch.target
        classes = tuple(str(c) for c in bunch.target_names)
    names = tuple(str(f) for f in bunch.feature_names)
    return Dataset(X=X, y=y, task=SKLEARN_TASKS[name], feature_names=names, classes=classes)
