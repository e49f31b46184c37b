"""pytest configuration shared by the unit tests and nbval.

stderr is not compared in notebooks: library warnings (torch, matplotlib) are not part
of a lesson's content and vary between versions (nbval issue #88).
"""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
