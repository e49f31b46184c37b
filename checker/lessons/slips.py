"""Slips that happen in more than one exercise, declared once.

A `Slip` is one misconception with one id and one explanation. An exercise attaches it with
`SLIP.mistake(answer)`, where `answer` is what the slip gives in that exercise's own terms (its
signature), with a sentence before or after the shared explanation where the exercise needs one.
A student who makes the slip is then told the same thing in every exercise where it can happen.
tests/test_shared_slips.py lists, for each exercise, which slips apply to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from ..engine.exercise import Mistake


@dataclass(frozen=True)
class Slip:
    id: str
    message: str

    def mistake(self, answer: Optional[Callable[..., Any]] = None, *, before: str = "", after: str = "",
                transform: Optional[Callable] = None, agrees_at_lesson_points: str = "") -> Mistake:
        shared = self.message[0].lower() + self.message[1:] if before.endswith(":") else self.message
        text = " ".join(part for part in (before, shared, after) if part)
        return Mistake(self.id, answer, text, transform=transform, agrees_at_lesson_points=agrees_at_lesson_points)


SIGMOID_DERIVATIVE_PLUS = Slip(
    "sigmoid-derivative-plus",
    "Your sigmoid derivative is σ(z)·(1 + σ(z)), with a plus: it is σ(z)·(1 − σ(z)). (Differentiating "
    "1/(1 + e^(−z)) gives e^(−z)/(1 + e^(−z))², and e^(−z)/(1 + e^(−z)) = 1 − σ(z).) The right one is at "
    "most 1/4 and goes to 0 where σ saturates; yours grows to 2.",
)

BIAS_MISSING = Slip(
    "bias-missing",
    "Your logit leaves out the bias: the bias is part of z, and p = σ(z) and everything computed from it need "
    "all of z.",
)

LOGIT_FOR_PREDICTION = Slip(
    "sigmoid-missing",
    "You used the logit z where the prediction p = σ(z) belongs: z − y is the error term of linear "
    "regression's squared error, not of cross-entropy, whose error term is p − y = σ(z) − y.",
)

GRAD_ACCUMULATED = Slip(
    "accumulated",
    "backward() adds into .grad, it does not replace it: a gradient an earlier backward() left there is "
    "still part of what you returned.",
)

GRAD_ACCUMULATED_ACROSS_CALLS = Slip(
    "accumulated-across-calls",
    "Your answer at each point is the sum of the gradients at all the points checked before it: the tensor "
    "whose .grad you return outlives one call of your function (it was made outside it, or kept between "
    "calls), and backward() adds into .grad, it does not replace it. Make the leaf inside your function, "
    "from its argument, so that each call starts from an empty .grad.",
)

BROADCAST_COLUMN = Slip(
    "broadcast-nn",
    "Broadcasting compared every prediction with every label in an (N, N) table, so each pᵢ met the average "
    "label instead of its own: that is what predictions of shape (N, 1) and labels of shape (N,) do when "
    "combined. Give p and y the same shape before combining them, and assert the shapes.",
)


def accumulated_across_calls(expected: list[torch.Tensor]) -> list[torch.Tensor]:
    """GRAD_ACCUMULATED_ACROSS_CALLS from the reference: call n returns the sum of the first n gradients."""
    return [e.cumsum(dim=0) for e in expected]
