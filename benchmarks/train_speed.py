#!/usr/bin/env python
"""Training speed of gdlab's full-batch gradient descent, against a memory floor and sklearn.

Run from the repository root::

    .venv/bin/python benchmarks/train_speed.py            # 200k x 100 float64, a few minutes
    .venv/bin/python benchmarks/train_speed.py --quick    # 20k x 100, seconds

What it measures (all times are medians over repeats; every comparison that is reported
as a ratio is timed *interleaved*, round-robin in the same loop, so that the noise of a
shared machine hits both sides alike):

1. **Memory floor**: the time to read X twice, which is the least a full-batch epoch
   (one ``X @ w`` and one ``r @ X``) can cost. Several honest "read X twice" kernels are
   timed; the floor is the fastest of them (which one is printed).
2. **GD epoch**: ``fit`` time of ``LogisticRegression`` / ``LinearRegression`` with
   ``epochs=E`` divided by ``n_epochs_`` (this includes the one-off input validation and
   the extra initial gradient, so it is slightly pessimistic), and the marginal epoch
   ``(fit(E2) - fit(E1)) / (E2 - E1)`` which cancels those one-off costs. Ratios to the
   floor; target <= 3x.
3. **Where an epoch goes**: the parts of one logistic ``value_and_gradient``.
4. **Time to objective**: sklearn's lbfgs (logistic) / Ridge (linear) solve the same
   objective; gdlab needs the first epoch whose objective is within ``--rtol`` (1e-6)
   relative of sklearn's. The learning rate of each optimizer is picked by a small sweep
   (multiples of 1/L, L the smoothness constant) on a row subsample; the epoch count is then
   read from the full-data history, and the reported time is a real timed fit of exactly
   that many epochs.

The table is printed and written, with machine details, to its own dated record in
benchmarks/results/.
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

from gdlab.losses import LogisticLoss, SquaredLoss, sigmoid
from gdlab.models import LinearRegression, LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import Machine, add_save_args, print_table, save_results  # noqa: E402

HERE = Path(__file__).resolve().parent


# -- problem ----------------------------------------------------------------------------
def make_problem(n: int, d: int, rho: float, seed: int):
    """Standardised correlated features, a logistic and a regression target.

    Features: AR(1) across columns with correlation ``rho`` (so the eigenvalues of X'X/n
    span about (1-rho)/(1+rho) to (1+rho)/(1-rho)), then arbitrary scales and offsets,
    then standardised.
    Logistic labels: ``1[X w* + 0.3 + 0.5 * logistic noise > 0]``; regression target:
    ``X w* + 0.3 + N(0, 0.5^2)``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    c = np.sqrt(1.0 - rho**2)
    for j in range(1, d):  # in place: X[:, j] = rho X[:, j-1] + sqrt(1-rho^2) z_j
        X[:, j] *= c
        X[:, j] += rho * X[:, j - 1]
    X *= rng.uniform(0.5, 3.0, size=d)
    X += rng.normal(0.0, 2.0, size=d)
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    X = np.ascontiguousarray(X)
    w_true = 2.0 * rng.standard_normal(d) / np.sqrt(d)
    signal = X @ w_true + 0.3
    y_log = (signal + 0.5 * rng.logistic(size=n) > 0).astype(np.float64)
    y_lin = signal + 0.5 * rng.standard_normal(n)
    return X, y_log, y_lin


def smoothness(X: np.ndarray) -> float:
    """Largest eigenvalue of [X 1]'[X 1] / n (the squared loss's Lipschitz constant)."""
    n = X.shape[0]
    s = X.sum(axis=0)
    G = np.empty((X.shape[1] + 1,) * 2)
    G[:-1, :-1] = X.T @ X
    G[:-1, -1] = G[-1, :-1] = s
    G[-1, -1] = n
    return float(np.linalg.eigvalsh(G / n)[-1])


# -- timing -----------------------------------------------------------------------------
def interleaved(funcs: dict, repeats: int, warmup: int = 1) -> dict:
    """Time each callable ``repeats`` times, round-robin; return name -> array of seconds."""
    for _ in range(warmup):
        for f in funcs.values():
            f()
    times = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: np.asarray(v) for k, v in times.items()}


def med(a) -> float:
    return float(np.median(a))


def ms(t: float) -> str:
    return f"{1e3 * t:.2f} ms" if t < 10 else f"{t:.2f} s"


def t_str(t: float) -> str:
    return f"{1e3 * t:.1f} ms" if t < 1 else f"{t:.3f} s"


# -- machine: benchmarks/_machine.py (shared by every script) --------------------------


# -- 1. floor ---------------------------------------------------------------------------
def floor_kernels(X: np.ndarray) -> dict:
    n, d = X.shape
    v = np.full(d, 0.01)
    r = np.full(n, 0.01)
    return {
        "X@v, X@v (gemv x2)": lambda: (X @ v, X @ v),
        "X@v, r@X (the GD pair)": lambda: (X @ v, r @ X),
        "X.sum() x2 (reduction)": lambda: (X.sum(), X.sum()),
    }


# -- 3. profile -------------------------------------------------------------------------
def logistic_parts(X, y, l2):
    """The steps of one logistic ``value_and_gradient``, as separately timed callables."""
    n, d = X.shape
    w = np.full(d, 0.01)
    b = 0.1
    obj = LogisticLoss(l2)
    state = {"z": X @ w + b}
    both = getattr(obj, "pointwise_and_derivative", None)

    def zpart():
        state["z"] = X @ w + b

    def grad():
        return (state["r"] @ X) / n + l2 * w, float(state["r"].mean())

    parts = {"z = X@w + b": zpart}
    if both is not None:  # gdlab >= the shared-softplus change: loss and r in one go
        def loss_r():
            loss, state["r"] = both(state["z"], y)
            return float(np.mean(loss))
        parts["loss value + r (pointwise_and_derivative)"] = loss_r
    else:
        def loss_r():
            v = obj.mean_loss(state["z"], y)
            state["r"] = sigmoid(state["z"]) - y
            return v
        parts["loss value + r = sigmoid(z) - y"] = loss_r
    loss_r()
    parts["g = r@X / n + l2 w, r.mean()"] = grad
    parts["value_and_gradient (all)"] = lambda: obj.value_and_gradient(w, b, X, y)
    return parts


# -- 4. time to objective ---------------------------------------------------------------
def first_within(hist: np.ndarray, target: float, rtol: float):
    ok = np.nonzero((hist - target) <= rtol * abs(target))[0]
    return int(ok[0]) + 1 if len(ok) else None


def sk_fit(kind: str, X, y, l2):
    n = X.shape[0]
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression as SkLR
        m = SkLR(C=1.0 / (n * l2), tol=1e-10, max_iter=10000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X, y)
        return m.coef_.ravel(), float(m.intercept_[0]), int(np.max(m.n_iter_))
    from sklearn.linear_model import Ridge
    m = Ridge(alpha=n * l2).fit(X, y)
    return m.coef_.ravel(), float(m.intercept_), None


def gd_model(kind, **kw):
    return (LogisticRegression if kind == "logistic" else LinearRegression)(tol=None, **kw)


def loss_of(kind, l2):
    return (LogisticLoss if kind == "logistic" else SquaredLoss)(l2)


def tune_lr(kind, opt, X, y, l2, L, mults, cap, rtol):
    """Pick the lr multiple of 1/L reaching the target in fewest epochs on (X, y)."""
    coef, b, _ = sk_fit(kind, X, y, l2)
    target = loss_of(kind, l2).value(coef, b, X, y)
    best = None
    for m in mults:
        h = gd_model(kind, lr=m / L, epochs=cap, l2=l2, optimizer=opt).fit(X, y)
        k = first_within(h.history_["train_objective"], target, rtol)
        if k is not None and (best is None or k < best[1]):
            best = (m, k)
    return best  # (multiplier, epochs on the subsample) or None


# -- main -------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20k x 100 problem, fewer repeats")
    ap.add_argument("--n", type=int, help="rows (default 200000, quick 20000)")
    ap.add_argument("--d", type=int, default=100, help="features (default 100)")
    ap.add_argument("--rho", type=float, default=0.5, help="feature AR(1) correlation")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, help="repeats of the fast kernels (default 15/7)")
    ap.add_argument("--fit-repeats", type=int, help="repeats of whole fits (default 5/3)")
    ap.add_argument("--epochs", type=int, default=30, help="E2 of the epoch-time fits")
    ap.add_argument("--rtol", type=float, default=1e-6, help="objective tolerance vs sklearn")
    ap.add_argument("--skip-tto", action="store_true", help="skip time-to-objective")
    ap.add_argument("--threads", type=int,
                    help="limit BLAS/OpenMP threads (threadpoolctl); default: library default")
    add_save_args(ap)
    a = ap.parse_args(argv)
    if a.threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(a.threads)
    n = a.n or (20_000 if a.quick else 200_000)
    d, l2 = a.d, a.l2
    reps = a.repeats or (7 if a.quick else 15)
    freps = a.fit_repeats or (3 if a.quick else 5)
    E2 = a.epochs
    E1 = max(1, E2 // 3)

    machine = Machine()
    machine.print()
    print("  note: OPENBLAS_CORETYPE, if set, forces OpenBLAS's kernel choice "
          f"(here: {machine.info['OPENBLAS_CORETYPE']}); threadpoolctl's arch= shows what is "
          "used.")

    t0 = time.perf_counter()
    X, y_log, y_lin = make_problem(n, d, a.rho, a.seed)
    lam = smoothness(X)
    L = {"logistic": 0.25 * lam + l2, "linear": lam + l2}
    print(f"\n== problem: n={n} d={d} float64 ({X.nbytes / 1e6:.0f} MB), rho={a.rho}, "
          f"l2={l2}, seed={a.seed}; lambda_max([X 1]'[X 1]/n)={lam:.3f} "
          f"(built in {time.perf_counter() - t0:.1f} s) ==")
    rows = []  # (section, quantity, value, note)

    # 1+2: floor and epochs, interleaved
    floor = floor_kernels(X)
    ft = interleaved(floor, reps)
    fmed = {k: med(v) for k, v in ft.items()}
    floor_name = min(fmed, key=fmed.get)
    for k, v in fmed.items():
        rows.append(("floor", f"read X twice: {k}", ms(v),
                     f"{2 * X.nbytes / v / 1e9:.1f} GB/s" + ("  <- floor" if k == floor_name
                                                             else "")))

    fits = {}
    for kind, y in (("logistic", y_log), ("linear", y_lin)):
        for E in (E1, E2):
            fits[(kind, E)] = (lambda kind=kind, y=y, E=E:
                               gd_model(kind, lr=1.0 / L[kind], epochs=E, l2=l2).fit(X, y))
    # floor kernels again inside the fit loop so the ratios are side by side
    allf = {**{("floor", k): f for k, f in floor.items()}, **fits}
    at = interleaved(allf, freps)
    floor_side = min(med(at[("floor", k)]) for k in floor)
    epoch = {}
    for kind in ("logistic", "linear"):
        per = med(at[(kind, E2)]) / E2
        marg = (med(at[(kind, E2)]) - med(at[(kind, E1)])) / (E2 - E1)
        epoch[kind] = per
        Model = "LogisticRegression" if kind == "logistic" else "LinearRegression"
        rows.append(("epoch", f"{Model} gd epoch = fit({E2})/{E2}", ms(per),
                     f"{per / floor_side:.2f}x floor"))
        rows.append(("epoch", f"{Model} marginal epoch (fit({E2})-fit({E1}))/{E2 - E1}",
                     ms(marg), f"{marg / floor_side:.2f}x floor"))
    rows.append(("epoch", "floor measured alongside the fits", ms(floor_side),
                 "(min over the floor kernels)"))

    # 3: where a logistic epoch goes
    pt = interleaved(logistic_parts(X, y_log, l2), reps)
    for k, v in pt.items():
        rows.append(("profile", f"logistic {k}", ms(med(v)),
                     f"{med(v) / fmed[floor_name]:.2f}x floor"))

    # 4: time to objective
    if not a.skip_tto:
        nsub = min(n, 20_000)
        sweeps = {"gd": (1, 2, 4, 8), "momentum": (0.25, 0.5, 1, 2)}
        for kind, y in (("logistic", y_log), ("linear", y_lin)):
            coef, b, nit = sk_fit(kind, X, y, l2)
            target = loss_of(kind, l2).value(coef, b, X, y)
            timed = {"sk": lambda kind=kind, y=y: sk_fit(kind, X, y, l2)}
            plan = {}
            for opt, mults in sweeps.items():
                best = tune_lr(kind, opt, X[:nsub], y[:nsub], l2, L[kind], mults, 1500, a.rtol)
                if best is None:
                    plan[opt] = None
                    continue
                m, k_sub = best
                cap = min(20_000, max(2 * k_sub, k_sub + 100))
                h = gd_model(kind, lr=m / L[kind], epochs=cap, l2=l2, optimizer=opt).fit(X, y)
                k = first_within(h.history_["train_objective"], target, a.rtol)
                plan[opt] = (m, k, cap)
                if k is not None:
                    timed[opt] = (lambda kind=kind, y=y, m=m, k=k, opt=opt: gd_model(
                        kind, lr=m / L[kind], epochs=k, l2=l2, optimizer=opt).fit(X, y))
            tt = interleaved(timed, freps, warmup=0)
            t_sk = med(tt["sk"])
            ref = ("sklearn LogisticRegression lbfgs tol=1e-10" if kind == "logistic"
                   else "sklearn Ridge(alpha=n*l2)")
            rows.append(("tto", f"{kind}: {ref}", t_str(t_sk),
                         f"objective {target:.12g}" + (f", {nit} iterations" if nit else "")))
            for opt in sweeps:
                p = plan[opt]
                if p is None:
                    rows.append(("tto", f"{kind}: gdlab {opt}", "n/a",
                                 "no lr reached the target on the subsample"))
                    continue
                m, k, cap = p
                if k is None:
                    rows.append(("tto", f"{kind}: gdlab {opt} lr={m}/L", f"> {cap} epochs",
                                 "target not reached"))
                    continue
                t = med(tt[opt])
                rows.append(("tto", f"{kind}: gdlab {opt} lr={m}/L={m / L[kind]:.3g}, "
                             f"{k} epochs", t_str(t), f"{t / t_sk:.2f}x sklearn"))

    # report
    machine.finish()
    heads = {"floor": f"1. memory floor (read X twice), {reps} repeats",
             "epoch": f"2. GD epoch (fits interleaved with floor kernels), {freps} repeats",
             "profile": f"3. where a logistic epoch goes, {reps} repeats",
             "tto": f"4. time to objective (within {a.rtol:g} relative of sklearn), "
                    f"{freps} repeats"}
    print()
    print_table(rows, heads)
    if not a.no_save:
        save_results(Path(__file__).name, rows, machine, argv=argv, quick=a.quick,
                     preamble=f"Problem: n={n}, d={d}, float64, rho={a.rho}, l2={l2}, "
                              f"seed={a.seed}.", results=a.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
