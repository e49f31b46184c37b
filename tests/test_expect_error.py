"""checker.expect_error: a deliberate error is shown, and the notebook goes on; a missing one fails loudly."""
import pytest
import torch

from checker import ExpectedErrorMissing, expect_error


def test_the_expected_error_is_caught_and_shown(capsys):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x**2
    with expect_error(RuntimeError) as caught:
        y.backward()
    printed = capsys.readouterr().out
    assert isinstance(caught.error, RuntimeError)
    assert caught.shown.type_name == "RuntimeError"
    assert "grad can be implicitly created only for scalar outputs" in printed
    assert "y.backward()" in printed and caught.shown.code == "y.backward()"
    # no checker or torch internals, no file paths
    assert "site-packages" not in printed and "/checker/" not in printed and ".py" not in printed


def test_the_students_line_not_the_library_line_is_named():
    from checker.figures.graph import draw_graph

    x = torch.tensor(3.0, requires_grad=True)
    with expect_error(ValueError, show=False) as caught:
        draw_graph(x.detach() ** 2)
    assert caught.shown.code == "draw_graph(x.detach() ** 2)"
    assert "no graph to draw" in caught.shown.message


def test_no_error_fails_loudly_and_names_the_expected_error():
    with pytest.raises(ExpectedErrorMissing, match="Expected RuntimeError here, but the code ran without an error"):
        with expect_error(RuntimeError):
            torch.ones(3).sum()


def test_another_error_fails_loudly_and_keeps_the_real_one():
    with pytest.raises(ExpectedErrorMissing, match="Expected RuntimeError here, but got TypeError") as info:
        with expect_error(RuntimeError):
            torch.sin("not a tensor")
    assert isinstance(info.value.__cause__, TypeError)


def test_a_message_that_does_not_match_fails_loudly():
    with pytest.raises(ExpectedErrorMissing, match="matching 'second time'"):
        with expect_error(RuntimeError, match="second time"):
            torch.tensor([1.0, 2.0], requires_grad=True).pow(2).backward()
    with expect_error(RuntimeError, match="only for scalar outputs", show=False):
        torch.tensor([1.0, 2.0], requires_grad=True).pow(2).backward()


def test_several_types_and_the_html_rendering():
    with expect_error((AttributeError, TypeError), show=False) as caught:
        None.zero_()  # noqa: B018
    html = caught.shown._repr_html_()
    assert "AttributeError" in html and "shows on purpose" in html and "&#x27;zero_&#x27;" in html
    assert caught.shown.to_dict()["type"] == "AttributeError"


def test_keyboard_interrupt_is_never_swallowed():
    with pytest.raises(KeyboardInterrupt):
        with expect_error(Exception):
            raise KeyboardInterrupt
