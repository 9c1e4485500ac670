#!/usr/bin/env python
"""The race: time and iterations to a relative objective gap of 1e-8, by every optimizer.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/race.py            # about 3 minutes
    PYTHONPATH=src .venv/bin/python benchmarks/race.py --quick    # a 20,000-row big problem

Three L2-regularised problems (l2 = 1e-3, standardised features): breast_cancer
(logistic), iris (softmax, 3 classes) and a generated 100,000 x 50 logistic problem
(``train_speed.make_problem``: AR(1)-correlated features). Each is minimised by gdlab's
``gd``, ``momentum``, ``adam`` (each at the best of a few learning rates after 200
epochs: multiples of 1/L, L the objective's smoothness, or Adam's usual ones), gdlab's
``newton`` and ``lbfgs``, and scikit-learn's ``lbfgs``, ``newton-cg`` and ``newton-cholesky``
(``LogisticRegression(C=1/(n*l2))``: the same objective, n times it). Every objective is
computed by gdlab's code. The optimum f* is the lowest objective any method reached; the
gap of a method after k iterations is (f_k - f*)/|f*|.

For each method: the fewest iterations k whose gap is at most 1e-8 (read from gdlab's
history, one entry per iteration; for scikit-learn, the fewest ``max_iter`` that gets
there, found by doubling then bisecting), and the time of a real fit of exactly k
iterations (median of ``--repeats``, the methods interleaved round-robin). A gradient
method that does not get there within ``--max-epochs`` is reported with the time of
that many epochs, so its ratio is a lower bound ("> x").

Goals (issue 30): gdlab newton within 1.5x of scikit-learn's newton-cholesky time, gdlab
lbfgs within 2x of scikit-learn's lbfgs, both >= 10x faster than the best gradient
descent variant at the same gap.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

try:  # run from a checkout without installing the package
    import gdlab  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gdlab.models import LogisticRegression
from gdlab.models.softmax_regression import SoftmaxRegression
from gdlab.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import Machine, add_save_args, report, t_str  # noqa: E402
from train_speed import interleaved, make_problem, smoothness  # noqa: E402

GAP = 1e-8
GD_VARIANTS = {"gd": (0.5, 1.0, 1.9), "momentum": (0.05, 0.1, 0.19)}  # times 1/L
ADAM_LRS = (0.003, 0.01, 0.03, 0.1)
PICK_EPOCHS = 200  # a gradient method's learning rate: the lowest objective after these
SK_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky")


def problems(quick: bool):
    """name -> (X, y, gdlab class, L): standardised data and the objective's smoothness."""
    from sklearn.datasets import load_breast_cancer, load_iris

    out = {}
    for name, loader, cls in (("breast_cancer", load_breast_cancer, LogisticRegression),
                              ("iris (softmax)", load_iris, SoftmaxRegression)):
        X, y = loader(return_X_y=True)
        out[name] = StandardScaler().fit_transform(X), y.astype(float), cls
    n = 20_000 if quick else 100_000
    X, y, _ = make_problem(n, 50, 0.5, 0)
    out[f"generated {n:,} x 50"] = X, y, LogisticRegression
    return out


class Race:
    """One problem: its objective, its optimum, and each method's way to the gap."""

    def __init__(self, X, y, cls, l2: float):
        self.X, self.y, self.cls, self.l2 = X, y, cls, l2
        # the softmax Hessian's blocks are at most 1/2 of the features' Gram matrix
        self.L = (0.5 if cls is SoftmaxRegression else 0.25) * smoothness(X) + l2
        self.best = np.inf
        self.curves: dict[str, np.ndarray] = {}

    def gdlab(self, optimizer: str, epochs: int, lr: float = 0.1, tol=None):
        return self.cls(lr=lr, optimizer=optimizer, epochs=epochs, l2=self.l2,
                        tol=tol).fit(self.X, self.y)

    def objective(self, sk) -> float:
        """gdlab's objective of a fitted scikit-learn estimator."""
        coef = sk.coef_[0] if self.cls is LogisticRegression else sk.coef_
        icpt = sk.intercept_[0] if self.cls is LogisticRegression else sk.intercept_
        model = self.cls.from_arrays({"coef": coef, "intercept": icpt})
        model.l2 = self.l2
        return float(model.objective(self.X, self.y))

    def sklearn(self, solver: str, max_iter: int):
        from sklearn.linear_model import LogisticRegression as Sk

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Sk(C=1 / (len(self.y) * self.l2), solver=solver, tol=1e-14,
                      max_iter=max_iter).fit(self.X, self.y)

    def optimum(self) -> float:
        for opt in ("newton", "lbfgs"):
            self.best = min(self.best, self.gdlab(opt, 200, tol=0.0).history_[
                "train_objective"].min())
        for solver in SK_SOLVERS:
            self.best = min(self.best, self.objective(self.sklearn(solver, 1000)))
        return self.best

    def gap(self, f):
        return (np.asarray(f) - self.best) / abs(self.best)

    def epochs_to_gap(self, history) -> int | None:
        hit = np.flatnonzero(self.gap(history) <= GAP)
        return int(hit[0]) + 1 if hit.size else None

    def gradient_method(self, optimizer: str, lrs, max_epochs: int):
        """(epochs to the gap or None, lr): each lr tried for PICK_EPOCHS epochs, the
        one with the lowest objective then run up to ``max_epochs``."""
        def final(lr):
            f = self.gdlab(optimizer, min(PICK_EPOCHS, max_epochs), lr).history_[
                "train_objective"][-1]
            return f if np.isfinite(f) else np.inf

        lr = min(lrs, key=final)
        return self.epochs_to_gap(self.gdlab(optimizer, max_epochs, lr).history_[
            "train_objective"]), lr

    def sklearn_iterations(self, solver: str) -> int | None:
        """The fewest max_iter that reach the gap (doubling, then bisection)."""
        def ok(k):
            return self.gap(self.objective(self.sklearn(solver, k))) <= GAP

        hi = 1
        while not ok(hi):
            hi *= 2
            if hi > 4096:
                return None
        lo = hi // 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if ok(mid) else (mid, hi)
        return hi


def race(name, X, y, cls, args) -> list[tuple]:
    r = Race(X, y, cls, args.l2)
    f_star = r.optimum()
    print(f"\n== {name}: n={X.shape[0]} d={X.shape[1]} l2={args.l2} f*={f_star:.12g} "
          f"L={r.L:.3f} ==")
    plan = {}  # method -> (iterations, callable that fits exactly that many, note)
    for opt in ("newton", "lbfgs"):
        k = r.epochs_to_gap(r.gdlab(opt, 500, tol=0.0).history_["train_objective"])
        plan[f"gdlab {opt}"] = (k, lambda o=opt, k=k: r.gdlab(o, k), "")
    variants = {**{v: [c / r.L for c in cs] for v, cs in GD_VARIANTS.items()},
                "adam": list(ADAM_LRS)}
    for opt, lrs in variants.items():
        t0 = time.perf_counter()
        k, lr = r.gradient_method(opt, lrs, args.max_epochs)
        run = k or args.max_epochs
        plan[f"gdlab {opt}"] = (k, lambda o=opt, run=run, lr=lr: r.gdlab(o, run, lr),
                                f"lr={lr:.3g} (best of {len(lrs)}, "
                                f"{time.perf_counter() - t0:.1f} s to pick)")
    for solver in SK_SOLVERS:
        k = r.sklearn_iterations(solver)
        plan[f"sklearn {solver}"] = (k, lambda s=solver, k=k: r.sklearn(s, k or 4096), "")
    for method, (k, _, note) in plan.items():
        print(f"  {method}: {k if k else 'not reached'} iterations {note}")

    # one timing round of the slow methods first: a gradient method's thousands of epochs
    # are timed once, the rest args.repeats times, interleaved
    quick, slow = {}, {}
    for method, (_, fit, _) in plan.items():
        t0 = time.perf_counter()
        fit()
        (slow if time.perf_counter() - t0 > 2.0 else quick)[method] = fit
    times = {k: float(np.median(v)) for k, v in interleaved(quick, args.repeats, 0).items()}
    times.update({k: float(interleaved({k: f}, 1, 0)[k][0]) for k, f in slow.items()})

    rows, gd_best = [], None
    for method, (k, _, note) in plan.items():
        reached = k is not None
        label = f"{k} it" if reached else f"not reached in {args.max_epochs} epochs"
        rows.append((name, method, t_str(times[method]), f"{label}; {note}".rstrip("; ")))
        if method.split()[-1] in variants:
            key = (not reached, times[method])
            gd_best = min(gd_best or (key, method), (key, method))
    (gd_unreached, gd_time), gd_name = gd_best
    bound = ">" if gd_unreached else ""

    def ratio(a, b):
        return times[a] / times[b]

    for ours, theirs, goal in (("gdlab newton", "sklearn newton-cholesky", 1.5),
                               ("gdlab lbfgs", "sklearn lbfgs", 2.0)):
        x = ratio(ours, theirs)
        rows.append((name, f"{ours} / {theirs}", f"{x:.2f}x",
                     f"goal <= {goal}x: {'met' if x <= goal else 'MISSED'}"))
        speedup = gd_time / times[ours]
        rows.append((name, f"best GD ({gd_name}) / {ours}", f"{bound}{speedup:.0f}x",
                     f"goal >= 10x: {'met' if speedup >= 10 else 'MISSED'}"
                     + (" (GD never reached the gap: a lower bound)" if bound else "")))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 20,000-row generated problem")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--repeats", type=int, default=5, help="timed fits per method")
    ap.add_argument("--max-epochs", type=int, default=3000,
                    help="most epochs of a gradient-descent variant")
    ap.add_argument("--threads", type=int, help="limit BLAS/OpenMP threads (threadpoolctl)")
    add_save_args(ap)
    args = ap.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    machine = Machine({"gap": f"relative objective gap {GAP:g}", "l2": args.l2})
    machine.print()
    rows = []
    for name, (X, y, cls) in problems(args.quick).items():
        rows += race(name, X, y, cls, args)
    report(Path(__file__).name, rows, machine, args, argv=argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
