r"""What scikit-learn's ``fit()`` runs, from scratch: Newton's method and L-BFGS (NumPy only).

Both minimise a smooth objective :math:`J(\theta)` over one flat parameter vector and know
nothing about models (:mod:`gdlab.models.training` wires them in as the ``newton`` and
``lbfgs`` values of the ``optimizer`` axis). One *iteration* is one accepted step.

- :func:`newton`: :math:`\theta \leftarrow \theta + t p` with :math:`H p = -\nabla J`
  solved by Cholesky (:math:`H = LL^\top`, two triangular solves). Where :math:`H` is not
  positive definite (the squared loss on a sigmoid is not convex) a multiple of the
  identity is added until it is (Nocedal & Wright, algorithm 3.3), so :math:`p` always
  points downhill; :math:`t = 1, \tfrac12, \tfrac14, \dots` backs off until the objective
  decreases enough (Armijo), and if no step does, the solver stops: it never steps uphill.
- :func:`lbfgs`: limited-memory BFGS, the two-loop recursion over the last ``m`` pairs
  :math:`(s, y)` (N&W algorithm 7.4) and a line search meeting the strong Wolfe
  conditions (algorithms 3.5 and 3.6, cubic interpolation in the zoom).

Stopping: the gradient's largest component at most ``tol`` (``"gradient"``); the objective
no longer decreasing in floating point (``"objective"``: a relative decrease below machine
epsilon); no step decreasing it (``"no_progress"``); ``max_iter`` iterations
(``"max_iterations"``). Every call is deterministic: no randomness, no threads of its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

EPS = np.finfo(np.float64).eps
#: the sufficient-decrease and curvature constants of the strong Wolfe conditions
#: (N&W's usual choice for quasi-Newton methods)
C1, C2 = 1e-4, 0.9


class Counter:
    """Counts a run's work: function, gradient and Hessian evaluations, why it stopped."""

    def __init__(self):
        self.iterations = self.function_evaluations = self.gradient_evaluations = 0
        self.hessian_evaluations = self.hessian_modifications = 0
        self.stop_reason = ""

    def report(self) -> dict:
        out = {"iterations": self.iterations,
               "function_evaluations": self.function_evaluations,
               "gradient_evaluations": self.gradient_evaluations,
               "stop_reason": self.stop_reason}
        if self.hessian_evaluations:
            out["hessian_evaluations"] = self.hessian_evaluations
            out["hessian_modifications"] = self.hessian_modifications
        return out


def _stop(count: Counter, g, f_old, f_new, tol) -> str:
    """Why to stop after an accepted step, or ``""``."""
    if np.max(np.abs(g)) <= (tol or 0.0):
        return "gradient"
    if f_old - f_new <= EPS * max(abs(f_old), abs(f_new), 1e-300):
        return "objective"
    return ""


# -- Newton ------------------------------------------------------------------------------
def modified_cholesky(H: np.ndarray, beta: float = 1e-3) -> tuple[np.ndarray, float]:
    """The Cholesky factor ``L`` of ``H + tau I`` with the least ``tau`` of the sequence
    0, beta', 2 beta', 4 beta'... that makes it positive definite (N&W algorithm 3.3,
    ``beta`` scaled by the largest diagonal entry). Returns ``(L, tau)``."""
    scale = max(float(np.max(np.abs(np.diag(H)))), 1e-300)
    step = beta * scale
    tau = 0.0 if np.min(np.diag(H)) > 0 else step - float(np.min(np.diag(H)))
    identity = np.eye(H.shape[0])
    for _ in range(200):
        try:
            return np.linalg.cholesky(H + tau * identity if tau else H), tau
        except np.linalg.LinAlgError:
            tau = max(2.0 * tau, step)
    raise np.linalg.LinAlgError("no multiple of the identity makes the Hessian positive definite")


def newton_direction(H: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, float]:
    """``p`` solving ``(H + tau I) p = -g`` through its Cholesky factor; ``(p, tau)``."""
    L, tau = modified_cholesky(H)
    return -np.linalg.solve(L.T, np.linalg.solve(L, g)), tau


def newton(value: Callable, value_and_gradient: Callable, hessian: Callable, x0: np.ndarray,
           max_iter: int, tol: float | None, callback: Callable | None = None,
           free: np.ndarray | None = None) -> tuple[np.ndarray, Counter]:
    """Minimise by Newton's method with a modified Hessian and step back-off.

    ``free``: the indices of the parameters the solve moves (None: all); the others stay
    at their start (a redundant parameter, such as the last class of a softmax).
    ``callback(x, f)`` is called after every iteration. Returns ``(x, counter)``.
    """
    count = Counter()
    x = np.array(x0, dtype=np.float64)
    free = np.arange(x.size) if free is None else free
    f, g = value_and_gradient(x)
    count.function_evaluations += 1
    count.gradient_evaluations += 1
    if np.max(np.abs(g[free])) == 0:  # already at a stationary point
        count.stop_reason = "gradient"
        return x, count
    for _ in range(max_iter):
        H = hessian(x)
        count.hessian_evaluations += 1
        gf = g[free]
        p_free, tau = newton_direction(H[np.ix_(free, free)], gf)
        count.hessian_modifications += tau > 0
        p = np.zeros_like(x)
        p[free] = p_free
        slope = float(gf @ p_free)  # < 0: p is a descent direction
        # back off until the decrease is sufficient (Armijo); the full step, nearly
        # always taken, is evaluated with its gradient, the shorter ones by value only
        t, accepted = 1.0, None
        for _ in range(60):
            if t == 1.0:
                trial, g_trial = value_and_gradient(x + p)
                count.gradient_evaluations += 1
            else:
                trial, g_trial = value(x + t * p), None
            count.function_evaluations += 1
            if trial <= f + C1 * t * slope:
                accepted = trial, g_trial
                break
            t *= 0.5
        if accepted is None or not slope < 0:
            count.stop_reason = "no_progress"
            break
        x = x + t * p
        f_old, (f, g) = f, accepted
        if g is None:
            g = value_and_gradient(x)[1]
            count.function_evaluations += 1
            count.gradient_evaluations += 1
        count.iterations += 1
        if callback is not None:
            callback(x, f)
        count.stop_reason = _stop(count, g[free], f_old, f, tol)
        if count.stop_reason:
            break
    count.stop_reason = count.stop_reason or "max_iterations"
    return x, count


# -- L-BFGS ------------------------------------------------------------------------------
def _cubic_min(a, fa, da, b, fb, db) -> float:
    """The minimiser of the cubic through (a, fa, da) and (b, fb, db) (N&W eq. 3.59), or
    NaN where it has none."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    root = d1 * d1 - da * db
    if not root >= 0:
        return float("nan")
    d2 = np.copysign(np.sqrt(root), b - a)
    return float(b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2))


def wolfe_line_search(value_and_gradient: Callable, x, f0, g0, p, count: Counter,
                      step: float = 1.0, c1: float = C1, c2: float = C2,
                      max_evals: int = 40):
    """A step ``alpha`` meeting the strong Wolfe conditions along ``p`` (N&W alg. 3.5/3.6):

    ``J(x + alpha p) <= J(x) + c1 alpha g0.p`` and ``|g(x + alpha p).p| <= c2 |g0.p|``.

    Returns ``(alpha, f, g)`` at the step, or None when ``max_evals`` evaluations found
    none (every evaluation gives value and gradient: both counts go up).
    """
    d0 = float(g0 @ p)
    evals = 0

    def phi(alpha):
        nonlocal evals
        evals += 1
        count.function_evaluations += 1
        count.gradient_evaluations += 1
        f, g = value_and_gradient(x + alpha * p)
        return f, g, float(g @ p)

    def zoom(lo, hi):  # lo, hi: (alpha, f, d); lo meets sufficient decrease, f lowest
        while evals < max_evals:
            a_lo, f_lo, d_lo = lo
            a_hi = hi[0]
            left, right = min(a_lo, a_hi), max(a_lo, a_hi)
            if (right - left) * np.max(np.abs(p)) <= EPS * max(np.max(np.abs(x)), 1.0):
                return None  # the interval is below floating-point resolution
            a = _cubic_min(a_lo, f_lo, d_lo, *hi)
            # safeguards: outside the interval (or NaN), bisect; too near an end, keep a
            # sliver away from it so that the interval shrinks
            margin = 1e-3 * (right - left)
            a = 0.5 * (a_lo + a_hi) if not left < a < right else \
                min(max(a, left + margin), right - margin)
            f, g, d = phi(a)
            if not f <= f0 + c1 * a * d0 or f >= f_lo:  # also true for NaN: overflow
                hi = (a, f, d)  # a non-finite end makes the next trial a bisection
                continue
            if abs(d) <= -c2 * d0:
                return a, f, g
            if d * (a_hi - a_lo) >= 0:
                hi = lo
            lo = (a, f, d)
        return None

    prev, alpha = (0.0, f0, d0), step
    for i in range(max_evals):
        f, g, d = phi(alpha)
        if not f <= f0 + c1 * alpha * d0 or (i > 0 and f >= prev[1]):  # NaN too
            return zoom(prev, (alpha, f, d))
        if abs(d) <= -c2 * d0:
            return alpha, f, g
        if d >= 0:
            return zoom((alpha, f, d), prev)
        prev, alpha = (alpha, f, d), 2.0 * alpha
    return None


def two_loop(g: np.ndarray, pairs) -> np.ndarray:
    """``H g`` for the L-BFGS inverse-Hessian approximation of the pairs ``(s, y, rho)``,
    oldest first, with ``H0 = (s.y / y.y) I`` of the newest pair (N&W algorithm 7.4)."""
    q = g.copy()
    alphas = []
    dot = np.dot  # the loop is Python's: its cost on a small problem is its calls
    for s, y, rho in reversed(pairs):
        a = rho * dot(s, q)
        q -= a * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= dot(s, y) / dot(y, y)
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        q += (a - rho * dot(y, q)) * s
    return q


def lbfgs(value_and_gradient: Callable, x0: np.ndarray, max_iter: int, tol: float | None,
          m: int = 10, callback: Callable | None = None, c2: float = C2
          ) -> tuple[np.ndarray, Counter]:
    """Minimise by L-BFGS with a memory of ``m`` pairs and a strong-Wolfe line search.

    ``callback(x, f)`` is called after every iteration. When the line search fails, the
    memory is dropped and the steepest descent tried once before stopping
    (``"no_progress"``). Returns ``(x, counter)``.
    """
    count = Counter()
    x = np.array(x0, dtype=np.float64)
    f, g = value_and_gradient(x)
    count.function_evaluations += 1
    count.gradient_evaluations += 1
    pairs: deque = deque(maxlen=m)
    if np.max(np.abs(g)) == 0:  # already at a stationary point
        count.stop_reason = "gradient"
        return x, count
    for _ in range(max_iter):
        p = -two_loop(g, pairs)
        # the first step of a steepest descent has no scale yet: make it of length 1
        step = 1.0 if pairs else min(1.0, 1.0 / float(np.linalg.norm(g)))
        found = wolfe_line_search(value_and_gradient, x, f, g, p, count, step, c2=c2)
        if found is None and pairs:
            pairs.clear()
            p = -g
            found = wolfe_line_search(value_and_gradient, x, f, g, p, count,
                                      min(1.0, 1.0 / float(np.linalg.norm(g))), c2=c2)
        if found is None:
            count.stop_reason = "no_progress"
            break
        alpha, f_new, g_new = found
        s, yv = alpha * p, g_new - g
        sy = float(s @ yv)
        if sy > EPS * float(yv @ yv):  # the Wolfe curvature condition makes it > 0
            pairs.append((s, yv, 1.0 / sy))
        x = x + s
        f_old, f, g = f, f_new, g_new
        count.iterations += 1
        if callback is not None:
            callback(x, f)
        count.stop_reason = _stop(count, g, f_old, f, tol)
        if count.stop_reason:
            break
    count.stop_reason = count.stop_reason or "max_iterations"
    return x, count
