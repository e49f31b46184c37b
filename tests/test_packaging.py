"""What the README promises about installing the checker is what pyproject.toml and `make compat` say."""
import pathlib
import re

from tools import compat

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_torch_range_starts_at_the_version_make_compat_tests():
    pyproject = (ROOT / "pyproject.toml").read_text()
    (lower,) = re.findall(r'"torch>=([\d.]+)"', pyproject)
    assert compat.COLAB_TORCH.startswith(lower + ".") or compat.COLAB_TORCH == lower
    readme = (ROOT / "README.md").read_text()
    assert f"`torch>={lower}`" in readme and "`make compat`" in readme


def test_compat_installs_the_pinned_test_tools_and_not_the_browser():
    pins = compat.pinned_test_tools()
    names = {re.split(r"[=<>;]", p)[0] for p in pins}
    assert {"pytest", "nbformat", "numpy"} <= names and not {"torch", "playwright", "jupyterlab"} & names
