"""Lesson figures and the tangent explorer (ipywidgets 7.7 and 8 share the API used)."""
import builtins
import math

import pytest
import torch

from checker.figures import plots


def test_tangent_figure_draws_curve_and_tangents():
    fig = plots.tangent_figure(lambda x: x**2, at=[-2.0, 1.5])
    ax = fig.axes[0]
    assert len(ax.lines) == 1 + 2 * 2 + 1  # the curve, a line and a dot per tangent, the x axis
    (x0, x1), (y0, y1) = ax.lines[1].get_data()
    assert (y1 - y0) / (x1 - x0) == pytest.approx(-4.0)  # slope of x² at -2, from autograd


def test_slope_from_autograd_or_from_df():
    assert plots.slope(lambda x: torch.sin(x**2), 3.0) == pytest.approx(-5.466781571308061)
    assert plots.slope(lambda x: x**2, 3.0, df=lambda x: 2 * x) == 6.0


def test_explorer_builds_a_slider_that_redraws(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def fake_display(obj, display_id=False):
        shown.append(("display", obj))
        return Handle() if display_id else None

    monkeypatch.setattr("IPython.display.display", fake_display)
    plots.explore_tangent(lambda x: torch.sin(x**2), x0=1.0)
    slider = shown[0][1]
    assert type(slider).__name__ == "FloatSlider" and slider.value == 1.0
    assert type(shown[1][1]).__name__ == "Image"
    slider.value = 2.0
    assert shown[-1][0] == "update" and shown[-1][1].data != shown[1][1].data


def test_explorer_without_ipywidgets_shows_one_static_figure(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_ipywidgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError("no ipywidgets")
        return real_import(name, *args, **kwargs)

    shown = []
    monkeypatch.setattr(builtins, "__import__", no_ipywidgets)
    monkeypatch.setattr("IPython.display.display", lambda obj, display_id=False: shown.append(obj))
    plots.explore_tangent(lambda x: x**2, x0=math.pi / 4)
    assert "ipywidgets is not installed" in capsys.readouterr().out
    assert len(shown) == 1 and type(shown[0]).__name__ == "Image"
