"""Figures and widgets for the lessons. matplotlib, IPython and ipywidgets are imported
here on first use, never by `import checker`.

Figures are built with matplotlib's object API (no pyplot) and shown as PNG images,
so they never leak into the student's own pyplot figures, and a slider can redraw
its figure in place with a display handle. That works the same on ipywidgets 7.7
(Colab) and 8, and a notebook run without a browser keeps the first drawing.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from ..engine.guard import on_cpu
from ..engine.render import figure_png


def _curve(f: Callable, low: float, high: float, n: int = 201):
    """f on a grid; f works on tensors (torch.sin, **, ...), so one call does it all."""
    xs = torch.linspace(low, high, n, dtype=torch.float64)
    return xs.tolist(), f(xs).tolist()


@on_cpu()  # a student's default device (cuda, meta) never reaches the figure's own tensors
def slope(f: Callable, x0: float, df: Optional[Callable] = None) -> float:
    """f'(x0): from your df if given, otherwise from torch.autograd."""
    if df is not None:
        return float(df(x0))
    x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(f(x), x)
    return float(grad)


@on_cpu()
def tangent_figure(f: Callable, at: Sequence[float], low: float = -3.0, high: float = 3.0,
                   df: Optional[Callable] = None, title: str = ""):
    """f over [low, high] with its tangent lines y = f(x0) + f'(x0)·(x - x0) at each x0 in `at`.

    f must accept tensors (torch.sin, not math.sin); slopes come from df if given,
    otherwise from autograd.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), dpi=80)
    ax = fig.add_subplot()
    xs, ys = _curve(f, low, high)
    ax.plot(xs, ys, color="C0", lw=2, label="f(x)")
    pad = 0.1 * ((max(ys) - min(ys)) or 1.0)
    half = (high - low) / 6
    for i, x0 in enumerate(at):
        y0, s = float(f(torch.tensor(float(x0), dtype=torch.float64))), slope(f, x0, df)
        color = f"C{i + 1}"
        ax.plot([x0 - half, x0 + half], [y0 - s * half, y0 + s * half], color=color, lw=2)
        ax.plot([x0], [y0], "o", color=color)
        ax.annotate(f"slope {s:.3g}", (x0, y0), textcoords="offset points", xytext=(6, -14), color=color)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.axhline(0, color="#999", lw=0.5)
    ax.set_xlabel("x")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _show(fig, display_id: bool = False):
    from IPython.display import Image, display

    return display(Image(data=figure_png(fig)), display_id=display_id)


def tangent_lines(f: Callable, at: Sequence[float], low: float = -3.0, high: float = 3.0,
                  df: Optional[Callable] = None, title: str = "") -> None:
    """Show f with its tangents at the points `at` (a static figure)."""
    _show(tangent_figure(f, at, low, high, df, title))


def explore_tangent(f: Callable, low: float = -3.0, high: float = 3.0, x0: float = 1.0,
                    df: Optional[Callable] = None, title: str = "") -> None:
    """A slider for x that redraws f and its tangent at x."""

    def figure(x):
        return tangent_figure(f, [x], low, high, df, title or f"tangent at x = {x:.2f}")

    try:
        import ipywidgets as widgets
    except ImportError:
        print("ipywidgets is not installed: here is the tangent at one point instead of a slider.")
        _show(figure(x0))
        return
    from IPython.display import display

    slider = widgets.FloatSlider(value=x0, min=low, max=high, step=0.05, description="x")
    display(slider)
    handle = _show(figure(x0), display_id=True)

    def redraw(change):
        from IPython.display import Image

        handle.update(Image(data=figure_png(figure(change["new"]))))

    slider.observe(redraw, names="value")


# -- loss surfaces over (w, b) (lesson 04) ----------------------------------------------
@on_cpu()
def loss_gradient(loss: Callable, w: float, b: float, grad: Optional[Callable] = None) -> tuple[float, float]:
    """(∂L/∂w, ∂L/∂b) at (w, b): from your grad(w, b) if given, otherwise from torch.autograd."""
    if grad is not None:
        gw, gb = grad(w, b)
        return float(gw), float(gb)
    wt = torch.tensor(float(w), dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(float(b), dtype=torch.float64, requires_grad=True)
    gw, gb = torch.autograd.grad(loss(wt, bt), (wt, bt))
    return float(gw), float(gb)


def _loss_grid(loss: Callable, w_range: Sequence[float], b_range: Sequence[float], n: int):
    """loss(w, b) on an n×n grid: rows follow b, columns follow w."""
    ws = torch.linspace(float(w_range[0]), float(w_range[1]), n, dtype=torch.float64)
    bs = torch.linspace(float(b_range[0]), float(b_range[1]), n, dtype=torch.float64)
    b_grid, w_grid = torch.meshgrid(bs, ws, indexing="ij")
    with torch.no_grad():
        try:  # all points in one call
            grid = torch.vmap(loss)(w_grid.reshape(-1), b_grid.reshape(-1)).reshape(n, n).to(torch.float64)
        except Exception:  # a loss that vmap cannot batch (e.g. it calls .item()): one point at a time
            grid = torch.tensor([[float(loss(w, b)) for w in ws] for b in bs], dtype=torch.float64)
    return ws, bs, grid


class _Surface:
    """The grid and the drawing scale of one loss surface, computed once for every redraw."""

    def __init__(self, loss, w_range, b_range, n):
        self.loss, self.w_range, self.b_range = loss, tuple(w_range), tuple(b_range)
        self.ws, self.bs, self.grid = _loss_grid(loss, w_range, b_range, n)
        finite = self.grid[torch.isfinite(self.grid)]
        levels = torch.quantile(finite, torch.linspace(0, 1, 16, dtype=torch.float64)).tolist()
        self.levels = sorted(set(levels)) if len(set(levels)) > 1 else [levels[0], levels[0] + 1]
        gb, gw = torch.gradient(self.grid, spacing=(self.bs, self.ws))
        norm = torch.sqrt(gw**2 + gb**2)
        self.max_slope = float(norm[torch.isfinite(norm)].max()) or 1.0


@on_cpu()
def loss_surface_figure(loss: Callable, w: float, b: float, w_range: Sequence[float] = (-4.0, 4.0),
                        b_range: Sequence[float] = (-4.0, 4.0), grad: Optional[Callable] = None,
                        path: Optional[Sequence[Sequence[float]]] = None, title: str = "", n: int = 61,
                        _surface: Optional[_Surface] = None):
    """Contours of loss(w, b) over the box, the point (w, b) and the step direction −∇L there.

    loss takes two 0-dim float64 tensors and returns a scalar tensor. The gradient comes
    from grad(w, b) if given (your own), otherwise from autograd. `path`: a list of (w, b),
    e.g. the parameters visited by gradient descent, drawn as a line.
    """
    from matplotlib.figure import Figure

    surface = _surface or _Surface(loss, w_range, b_range, n)
    value = float(loss(torch.tensor(float(w), dtype=torch.float64), torch.tensor(float(b), dtype=torch.float64)))
    gw, gb = loss_gradient(loss, w, b, grad)

    fig = Figure(figsize=(6, 4.6), dpi=80)
    ax = fig.add_subplot()
    filled = ax.contourf(surface.ws.tolist(), surface.bs.tolist(), surface.grid.tolist(),
                         levels=surface.levels, cmap="viridis")
    ax.contour(surface.ws.tolist(), surface.bs.tolist(), surface.grid.tolist(),
               levels=surface.levels, colors="white", linewidths=0.4)
    fig.colorbar(filled, ax=ax, label="loss L(w, b)", format="%.2g")
    if path:
        ax.plot([float(p[0]) for p in path], [float(p[1]) for p in path], ".-", color="#ffb000", lw=1.2,
                ms=3, label="gradient descent")
    # The arrow is −∇L (downhill), its length proportional to |∇L|: the steepest slope on the grid
    # is drawn as 0.3 of the box.
    size = 0.3 * min(surface.w_range[1] - surface.w_range[0], surface.b_range[1] - surface.b_range[0])
    scale = size / surface.max_slope
    ax.annotate("", xy=(w - scale * gw, b - scale * gb), xytext=(w, b),
                arrowprops={"arrowstyle": "-|>", "color": "#d93025", "lw": 2})
    ax.plot([w], [b], "o", color="#d93025", label="(w, b); arrow: −∇L, downhill")
    ax.set_xlim(*surface.w_range)
    ax.set_ylim(*surface.b_range)
    ax.set_xlabel("w")
    ax.set_ylabel("b")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or f"L = {value:.4g},  ∇L = (∂L/∂w, ∂L/∂b) = ({gw:.3g}, {gb:.3g})", fontsize=10)
    fig.tight_layout()
    return fig


def explore_loss_surface(loss: Callable, w_range: Sequence[float] = (-4.0, 4.0),
                         b_range: Sequence[float] = (-4.0, 4.0), w0: float = 1.0, b0: float = 0.0,
                         grad: Optional[Callable] = None, path: Optional[Sequence[Sequence[float]]] = None,
                         title: str = "", n: int = 61) -> None:
    """Two sliders, w and b, that move a point on the contours of loss(w, b) and redraw the
    step direction −∇L there (see loss_surface_figure). Without ipywidgets: one static figure."""
    surface = _Surface(loss, w_range, b_range, n)

    def figure(w, b):
        return loss_surface_figure(loss, w, b, grad=grad, path=path, title=title, _surface=surface)

    try:
        import ipywidgets as widgets
    except ImportError:
        print(f"ipywidgets is not installed: here is the surface at w = {w0}, b = {b0} instead of sliders.")
        _show(figure(w0, b0))
        return
    from IPython.display import display

    step_w = (surface.w_range[1] - surface.w_range[0]) / 80
    step_b = (surface.b_range[1] - surface.b_range[0]) / 80
    w_slider = widgets.FloatSlider(value=w0, min=surface.w_range[0], max=surface.w_range[1], step=step_w,
                                   description="w")
    b_slider = widgets.FloatSlider(value=b0, min=surface.b_range[0], max=surface.b_range[1], step=step_b,
                                   description="b")
    display(widgets.VBox([w_slider, b_slider]))
    handle = _show(figure(w0, b0), display_id=True)

    def redraw(change):
        from IPython.display import Image

        handle.update(Image(data=figure_png(figure(w_slider.value, b_slider.value))))

    w_slider.observe(redraw, names="value")
    b_slider.observe(redraw, names="value")
