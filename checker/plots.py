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

from .render import figure_png


def _curve(f: Callable, low: float, high: float, n: int = 201):
    """f on a grid; f works on tensors (torch.sin, **, ...), so one call does it all."""
    xs = torch.linspace(low, high, n, dtype=torch.float64)
    return xs.tolist(), f(xs).tolist()


def slope(f: Callable, x0: float, df: Optional[Callable] = None) -> float:
    """f'(x0): from your df if given, otherwise from torch.autograd."""
    if df is not None:
        return float(df(x0))
    x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(f(x), x)
    return float(grad)


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
