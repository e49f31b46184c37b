"""Fixtures shared by the lesson tests."""
import pytest


class _Handle:
    """A display handle: what a figure's update() sent."""

    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


@pytest.fixture
def shown(monkeypatch):
    """Record what a figure or explorer displays instead of showing it."""
    pytest.importorskip("matplotlib")
    IPython_display = pytest.importorskip("IPython.display")
    record = {"objects": [], "handle": _Handle()}

    def display(*objs, display_id=None, **kwargs):
        record["objects"].extend(objs)
        return record["handle"] if display_id else None

    monkeypatch.setattr(IPython_display, "display", display)
    return record
