"""How every gdlab figure is drawn and saved: one style, one canvas, reproducible PNGs.

Figures use Matplotlib's object API on the Agg canvas directly, never ``pyplot``: no
display is needed, no global figure registry grows, and no backend setting of the user's
can interfere. Every figure is byte-for-byte reproducible: Matplotlib's built-in defaults
plus :data:`STYLE` (the user's ``matplotlibrc`` is ignored), a fixed DPI, and PNG
metadata without the Matplotlib version or a timestamp.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable

import matplotlib as mpl
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from gdlab.io import write_bytes

#: resolution of every PNG (pixels per inch): a 10-inch sweep figure is 1100 px wide
DPI = 110

#: rcParams on top of Matplotlib's built-in defaults
STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9.5,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.85,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": float(DPI),
    "savefig.dpi": float(DPI),
    "image.interpolation": "nearest",
}

DIVERGED_COLOR = "#d62728"
BEST_COLOR = "#e41a1c"
TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#ff7f0e"
REFERENCE_COLOR = "#1a9850"
CLASS_COLORS = ("#2166ac", "#b2182b")
LINESTYLES = ("-", "--", ":", "-.")
# plasma without its palest yellow, which vanishes on white
LR_CMAP = mcolors.ListedColormap(mpl.colormaps["plasma"](np.linspace(0.0, 0.85, 256)),
                                 name="plasma_trunc")


def styled(func: Callable) -> Callable:
    """Run ``func`` under Matplotlib's defaults plus :data:`STYLE`, whatever the user's rc."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context():
            mpl.rcdefaults()
            mpl.rcParams.update(STYLE)
            return func(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    """A figure on an Agg canvas.

    Sweep figures use constrained layout (their size depends on the sweep); figures drawn
    many times, or with many panels, have fixed margins (:func:`margins`) instead:
    constrained layout costs an extra layout pass, about 40 % of a small figure's time.
    """
    fig = Figure(figsize=(width, height), dpi=DPI,
                 layout="constrained" if constrained else "none")
    FigureCanvasAgg(fig)
    if constrained:
        fig.get_layout_engine().set(h_pad=0.08, w_pad=0.08)
    return fig


def reuse_figure(fig: Figure | None, width: float, height: float) -> Figure:
    """``fig`` emptied for reuse (one figure object serves every run of a sweep), or a new
    one with fixed margins."""
    if fig is None or tuple(fig.get_size_inches()) != (width, height):
        return new_figure(width, height, constrained=False)
    fig.clear()
    return fig


def margins(fig: Figure, left: float = 0.85, right: float = 0.25, bottom: float = 0.6,
            top: float = 0.75, wspace: float | None = None,
            hspace: float | None = None) -> None:
    """Fixed margins, in inches (room for tick labels, axis labels and a two-line title);
    ``wspace`` and ``hspace`` as :meth:`Figure.subplots_adjust` takes them."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=wspace, hspace=hspace)


@styled
def render_png(fig: Figure) -> bytes:
    """The PNG bytes of ``fig``; no timestamp or version in them, so they are reproducible."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None},
                facecolor="white")
    return buf.getvalue()


def save(fig: Figure, path) -> None:
    write_bytes(path, render_png(fig))


def text_width(fig: Figure, texts, size: float) -> float:
    """The width in inches of the widest of ``texts`` at font ``size`` (points)."""
    renderer, prop = fig.canvas.get_renderer(), FontProperties(size=size)
    return max((renderer.get_text_width_height_descent(t, prop, ismath=False)[0]
                for t in texts if t), default=0.0) / fig.dpi


def heatmap_layout(fig: Figure, first_panel: Axes, ytick_labels: list[str], nrows: int,
                   ncols: int, n_title_lines: int, facet_titles: bool) -> Axes:
    """Fixed margins for a many-panel figure, in inches: room on the left for the widest
    y tick label and the y label, above for the title lines and the panels' titles, below
    for the x tick labels, x label and legend, and on the right for the colorbar, whose
    axes this returns (as high as the panels, 90 % of it)."""
    w, h = fig.get_size_inches()
    left = 0.2 + text_width(fig, ytick_labels, mpl.rcParams["ytick.labelsize"]) + (
        0.3 if first_panel.get_ylabel() else 0.0)
    # the colorbar 0.25 in from the panels, 0.17 in wide, its tick labels and its label
    right = 1.35
    top = 0.15 + 0.22 * n_title_lines + (0.28 if facet_titles else 0.05)
    bottom = 0.85  # x tick labels, x label, the legend below them

    def gap(space: float, n: int, inches: float) -> float:  # as a fraction of a panel
        return inches / ((space - (n - 1) * inches) / n)

    margins(fig, left, right, bottom, top, wspace=gap(w - left - right, ncols, 0.2),
            hspace=gap(h - top - bottom, nrows, 0.32 if facet_titles else 0.15))
    span = (h - top - bottom) / h
    return fig.add_axes((1 - (right - 0.25) / w, bottom / h + 0.05 * span, 0.17 / w,
                         0.9 * span), label="<colorbar>")


# --------------------------------------------------------------------------------------
# Small helpers every figure uses
# --------------------------------------------------------------------------------------


def finite(a) -> np.ndarray:
    """A float copy of ``a`` with non-finite values replaced by NaN (Matplotlib skips them)."""
    a = np.array(a, dtype=np.float64)
    a[~np.isfinite(a)] = np.nan
    return a


def wants_log(values, ratio: float = 20.0) -> bool:
    """Log scale when every finite value is positive and they span more than ``ratio``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(np.all(v > 0)) and v.max() / v.min() >= ratio


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return "none" if v is None else str(v)


def padded(lo: float, hi: float, frac: float = 0.08) -> tuple[float, float]:
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - frac * span, hi + frac * span


def note(ax, text: str, y: float = 0.5, color: str = "0.2") -> None:
    """A boxed remark in the middle of ``ax`` (at height ``y``, in axes fraction)."""
    ax.text(0.5, y, text, transform=ax.transAxes, ha="center", va="center", fontsize=8,
            color=color, bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9},
            zorder=10)


def text_color(rgba) -> str:
    """Black or white, whichever reads on the colour ``rgba``."""
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def parse_cell(v: str):
    """A summary.csv cell as a number when it is one (for sorting and formatting)."""
    if v in ("", "none"):
        return None
    if v in ("true", "false"):
        return v == "true"
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f


def sort_key(v):
    """Order of mixed cell values: None, then numbers, then text."""
    return (0, 0.0, "") if v is None else (1, float(v), "") if isinstance(v, int | float) \
        else (2, 0.0, str(v))


def cell_metric(row: dict, metric: str) -> float:
    """A table row's ``metric`` as a float (NaN when empty or not a number)."""
    try:
        return float(row.get(metric) or "nan")
    except ValueError:
        return float("nan")


def metric_norm(values: np.ndarray, ratio: float = 10.0):
    """A colour normalisation of the finite ``values``: log when they span ``ratio``."""
    ok = values[np.isfinite(values)]
    if ok.size == 0:
        return mcolors.Normalize(0.0, 1.0)
    if wants_log(ok, ratio=ratio):
        return mcolors.LogNorm(ok.min(), ok.max())
    lo, hi = float(ok.min()), float(ok.max())
    return mcolors.Normalize(lo, hi if hi > lo else lo + 1e-12)


def direction(higher: bool) -> str:
    return "higher is better" if higher else "lower is better"


def title_of(*parts: str) -> str:
    return " / ".join(p for p in parts if p)


def is_finite_number(v) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)
