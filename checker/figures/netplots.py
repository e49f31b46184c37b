"""Figures for lesson 05, a small neural network: ReLU and tanh with their slopes, dead ReLU units, decision
regions, and an explorer that retrains a network when a slider moves.

The same rules as checker.figures.plots: matplotlib's object API (no pyplot, so the student's own figures are left
alone), figures shown as PNG through a display handle that a slider updates in place, on ipywidgets 7.7
(Colab) and 8; matplotlib and ipywidgets are imported on first use, never by `import checker`.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..engine.guard import on_cpu
from ..engine.render import figure_png
from .plots import _show

CLASS_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#9c755f")


@on_cpu()
def activation_figure(low: float = -4.0, high: float = 4.0):
    """ReLU and tanh (top) and their slopes as autograd computes them (bottom), with ReLU's slope at 0 marked."""
    from matplotlib.figure import Figure

    a = torch.linspace(low, high, 801, dtype=torch.float64)  # 0 is one of the grid points
    fig = Figure(figsize=(9, 4.4), dpi=80)
    axes = fig.subplots(2, 2, sharex=True)
    for column, (name, f) in enumerate((("relu", torch.relu), ("tanh", torch.tanh))):
        x = a.clone().requires_grad_()
        (slope,) = torch.autograd.grad(f(x).sum(), x)  # each output depends on its own input only
        axes[0, column].plot(a.tolist(), f(a).tolist(), color="C0", lw=2)
        axes[0, column].set_title(f"{name}(a)")
        axes[1, column].plot(a.tolist(), slope.tolist(), color="C3", lw=2)
        axes[1, column].set_title(f"its slope, d {name}(a)/da (autograd)")
        axes[1, column].set_xlabel("a")
        for ax in axes[:, column]:
            ax.axhline(0, color="#999", lw=0.5)
            ax.axvline(0, color="#999", lw=0.5)
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (at_zero,) = torch.autograd.grad(torch.relu(zero), zero)
    axes[1, 0].plot([0.0], [float(at_zero)], "o", color="k", ms=7, label=f"slope at a = 0: {float(at_zero):g}")
    axes[1, 0].plot([0.0], [1.0], "o", color="k", mfc="white", ms=7)
    axes[1, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def show_activations() -> None:
    _show(activation_figure())


@on_cpu()
def dead_units_figure(pre: torch.Tensor, title: str = ""):
    """Which units of a ReLU layer are active (pre > 0) for which example; a unit active for none is dead."""
    from matplotlib.figure import Figure

    active = (pre.detach().cpu() > 0).to(torch.float64)  # (N, H)
    share = active.mean(dim=0)  # per unit: the fraction of examples where it passes a gradient
    fig = Figure(figsize=(9, 3.6), dpi=80)
    ax_map, ax_share = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    ax_map.imshow(active.T.tolist(), aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax_map.set_xlabel("example")
    ax_map.set_ylabel("hidden unit")
    ax_map.set_title("black: active (pre > 0), gradient passes")
    colors = ["#d93025" if s == 0 else "#1e8e3e" for s in share.tolist()]
    ax_share.barh(range(len(colors)), share.tolist(), color=colors)
    for unit, s in enumerate(share.tolist()):
        if s == 0:  # a bar of length 0: say it
            ax_share.text(0.02, unit, "dead", color="#d93025", va="center", fontsize=8)
    ax_share.invert_yaxis()
    ax_share.set_xlim(0, 1)
    ax_share.set_xlabel("share of examples where the unit is active")
    ax_share.set_title(f"dead units (red): {int((share == 0).sum())} of {len(colors)}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_dead_units(pre: torch.Tensor, title: str = "") -> None:
    _show(dead_units_figure(pre, title))


@on_cpu()
def draw_decision_regions(ax, predict: Callable, X: torch.Tensor, y: torch.Tensor, n: int = 180,
                          margin: float = 0.25) -> None:
    """On `ax`: the class `predict` gives at every point of the plane around X (N, 2), and the data, by class.

    predict takes a float32 tensor of shape (M, 2) and returns class indices (M,) or logits (M, C)."""
    X, y = X.detach().cpu(), y.detach().cpu()
    low, high = X.min(dim=0).values - margin, X.max(dim=0).values + margin
    g1, g2 = torch.meshgrid(torch.linspace(float(low[0]), float(high[0]), n),
                            torch.linspace(float(low[1]), float(high[1]), n), indexing="xy")
    with torch.no_grad():
        out = predict(torch.stack([g1.reshape(-1), g2.reshape(-1)], dim=1).to(X.dtype))
    classes = (out.argmax(dim=1) if out.dim() == 2 else out).reshape(n, n)
    n_classes = max(int(y.max()) + 1, int(classes.max()) + 1)
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(CLASS_COLORS[:n_classes])
    ax.imshow(classes.tolist(), origin="lower", extent=(float(low[0]), float(high[0]), float(low[1]), float(high[1])),
              cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5, alpha=0.3, aspect="auto", interpolation="nearest")
    for k in range(n_classes):
        points = X[y == k]
        ax.scatter(points[:, 0].tolist(), points[:, 1].tolist(), s=14, color=CLASS_COLORS[k], edgecolor="k",
                   linewidth=0.4, label=f"class {k}")
    ax.set_xlim(float(low[0]), float(high[0]))
    ax.set_ylim(float(low[1]), float(high[1]))
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")


def training_figure(predict: Callable, losses: Sequence[float], X: torch.Tensor, y: torch.Tensor, title: str = ""):
    """Decision regions (left) and the loss curve (right) of one trained network."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=80)
    ax_regions, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
    draw_decision_regions(ax_regions, predict, X, y)
    ax_regions.set_title(title, fontsize=10)
    ax_loss.plot(list(losses), color="C0", lw=1.5)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (mean cross-entropy)")
    ax_loss.set_title("training loss", fontsize=10)
    fig.tight_layout()
    return fig


def explore_training(train: Callable, X: torch.Tensor, y: torch.Tensor, widths: Sequence[int] = (2, 4, 8, 16, 32, 64),
                     learning_rates: Sequence[float] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0), width: int = 8,
                     learning_rate: float = 0.3) -> None:
    """Two sliders, the hidden width and the learning rate; each change retrains the network and redraws its
    decision regions and loss curve. train(width, learning_rate) -> (predict, losses, accuracy): predict maps
    (M, 2) points to logits or classes, losses is the loss at each step, accuracy a fraction.
    Without ipywidgets: one static figure."""

    def figure(w, lr):
        predict, losses, accuracy = train(w, lr)
        title = f"hidden width {w}, learning rate {lr:g}: final loss {losses[-1]:.3f}, accuracy {accuracy:.0%}"
        return training_figure(predict, losses, X, y, title)

    try:
        import ipywidgets as widgets
    except ImportError:
        print(f"ipywidgets is not installed: here is width {width}, learning rate {learning_rate} instead of sliders.")
        _show(figure(width, learning_rate))
        return
    from IPython.display import display

    # SelectionSlider: the same on ipywidgets 7.7 (Colab) and 8, and only the values listed
    style = {"description_width": "initial"}  # the whole label, on both versions
    width_slider = widgets.SelectionSlider(options=list(widths), value=width, description="hidden width",
                                           style=style)
    lr_slider = widgets.SelectionSlider(options=list(learning_rates), value=learning_rate,
                                        description="learning rate", style=style)
    display(widgets.VBox([width_slider, lr_slider]))
    handle = _show(figure(width, learning_rate), display_id=True)

    def redraw(change):
        from IPython.display import Image

        handle.update(Image(data=figure_png(figure(width_slider.value, lr_slider.value))))

    width_slider.observe(redraw, names="value")
    lr_slider.observe(redraw, names="value")
