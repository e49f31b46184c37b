"""What an exercise is made of, as data: `ExerciseSpec` (every field an exercise declares), `Mistake`,
`Tolerance`, and the error for a broken definition.

This is the bottom of the engine: the judge (`judge`, `diagnose`) reads specs; `checker.engine.exercise`
adds what students call (`check`, `hint`, `solution`, `practice`) on top of them. Nothing here judges.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


class ExerciseDefinitionError(Exception):
    """An exercise's own definition is broken. Please report it to the course authors."""


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer and the message that names its misconception.

    `answer` has the same signature as a correct answer; the checker evaluates it at
    the same points as the student's, so a student whose answer matches it at every
    point is told exactly which misconception that was. In a "value" exercise, `answer`
    is the wrong value itself (a number or a tensor), as a student would give it.

    `transform` (instead of, or besides, `answer`) describes the mistake from the reference
    itself: given the reference outputs stacked over the points (one tensor per output, in
    the order the answer is called), it returns what the mistaken answer gives there. It
    suits slips that any exercise can show, such as a Jacobian returned transposed.
    """

    id: str
    answer: Optional[Callable[..., Any]]
    message: str
    # The outputs by which this mistake is known (None: all of them). For a mistake that is a family of
    # wrong answers agreeing on some outputs only, e.g. a finite difference with "a step too small",
    # whatever the step: their method flags agree, their gradients do not.
    known_by: Optional[tuple[str, ...]] = None
    transform: Optional[Callable[[list], list]] = None
    # Why this mistake may give the reference's value at the lesson's own points, if it may: a numerically
    # fragile form of the right formula (it differs only where something overflows), or a slip that
    # vanishes at the lesson's example. Empty: it must differ there (tests/test_lesson_points.py), so that
    # a student who makes it is never told they are right at the lesson's point.
    agrees_at_lesson_points: str = ""
    # The lesson section that teaches the point (a heading of the notebook), for the class report; "": the
    # exercise's own title stands for it.
    section: str = ""


@dataclass(frozen=True)
class Tolerance:
    """|got - expected| <= atol + rtol * |expected|, elementwise.

    The defaults accept answers computed in float32 (about 7 significant digits)
    while every known mistake stays far outside them.

    `rounding_of`: for an answer in float16 or bfloat16, also allow the spacing of that dtype at the
    expected value (one ulp): the answer is judged at its own rounding of the expected value, a width
    relative to each value, never a fixed absolute one.
    """

    rtol: float = 1e-4
    atol: float = 1e-5
    rounding_of: Any = None

    def allowed(self, target):
        """The largest |got - target| accepted at each element of `target` (a float64 tensor)."""
        width = self.atol + self.rtol * target.abs()
        if self.rounding_of is not None:
            width = width + ulp(target, self.rounding_of)
        return width


def ulp(values, dtype):
    """The spacing of `dtype`'s numbers at each of `values` (subnormal spacing near 0)."""
    import torch

    info = torch.finfo(dtype)
    _, exponent = torch.frexp(values.abs().to(torch.float64))
    spacing = torch.ldexp(torch.ones_like(values, dtype=torch.float64), exponent - 1) * info.eps
    return torch.clamp(spacing, min=info.tiny * info.eps)


@dataclass(eq=False)
class ExerciseSpec:
    """Everything one checked exercise declares (checker.engine.exercise.Exercise adds the methods students call).

    kind:
      "gradient": the answer is a function of `inputs`; it must return the partial
        derivatives of `function` with respect to the inputs named in `wrt`
        (one value when there is one, a tuple in `wrt` order otherwise).
      "value": the answer is a value (a number or a tensor), compared with what
        `reference()` computes by running autograd at check time.

    An answer that is not a function of numbers (a numerical method given a function `f`, a
    torch.autograd.Function, a class) names a `harness` (checker.engine.harness): the points are then
    *cases* (pass_as="case", plain values drawn by `sampler`) and the harness measures the
    answer at each case; `reference(*case)` computes the outputs it is compared with.
    """

    id: str
    title: str
    signature: str
    hints: tuple[str, ...]
    solution_fn: Callable[..., Any]
    function: Optional[Callable[..., Any]] = None
    inputs: tuple[str, ...] = ("x",)
    domain: dict[str, tuple[float, float]] = field(default_factory=dict)
    points: tuple[tuple, ...] = ()
    # Points always checked besides the lesson's own and the sampled ones, not shown as the lesson's:
    # where a known failure lives (e.g. the logits at which a naive loss overflows).
    edge_points: tuple[tuple, ...] = ()
    sampler: Optional[Callable[[Any], tuple]] = None
    n_samples: int = 32
    # The sampled points sorted by this key, smallest first, so that the failing points a verdict shows
    # first are the simplest ones (e.g. the smallest random graph). None: in the order drawn.
    case_size: Optional[Callable[[tuple], Any]] = None
    wrt: Optional[tuple[str, ...]] = None
    outputs: Optional[tuple[str, ...]] = None
    reference: Optional[Callable[..., Any]] = None
    mistakes: tuple[Mistake, ...] = ()
    tolerance: Tolerance = Tolerance()
    kind: str = "gradient"
    pass_as: str = "float"  # how the answer receives inputs: "float", "tensor" or "case" (as they are)
    # For pass_as="tensor": the dtypes the answer's inputs come in, each at every point (the inputs
    # rounded to it). An exercise about numerical stability adds torch.float32, the precision models
    # train in: the answer is then also judged there, against the float64 reference.
    precisions: tuple = ()
    # With pass_as="tensor": the dtype of the float tensors the answer receives. "float32" where stability in
    # float32 is the point (an overflow at logits near 89); the reference is still float64. Integer tensors
    # (class labels) are passed as they are.
    dtype: str = "float64"
    batched: bool = True  # `function` is elementwise, so all points go through autograd at once
    forbid_autograd: bool = True
    # The answer must compute its gradient with autograd (fix-the-autograd-code exercises): right numbers
    # computed some other way, e.g. by hand, are not accepted. Keeps such an exercise from being answered
    # by a manual-gradient exercise's answer (those forbid autograd), so no function answers both.
    require_autograd: bool = False
    # Library functions the answer may not call, {torch function name: why}: e.g. the loss the exercise
    # asks students to write themselves. Refused under any route (F., torch., nn. modules, torch.ops).
    forbidden: dict[str, str] = field(default_factory=dict)
    # What the exercise asks for instead of autograd, as the refusal of an answer that uses it says it ("This
    # exercise asks for ..."): the formula by hand, or a numerical method (lesson 06's finite differences).
    asks_for: str = "the gradient by hand: write the formula yourself"
    # What to say when the answer returns None (graded incorrect, mistake "returned-none"), for exercises
    # where None is itself a known bug, e.g. returning the `.grad` of a tensor autograd never fills.
    # None keeps the default: "not attempted, did you forget `return`?".
    none_message: Optional[str] = None
    # What to add when the answer raises one of these errors, {exception type name: advice}: for an error the
    # exercise's points provoke on purpose, e.g. a division by 1 − σ(z) where σ(40) rounds to exactly 1.0.
    error_advice: dict[str, str] = field(default_factory=dict)
    time_limit: float = 5.0
    max_score: float = 1.0
    # The outputs are the stages of one computation, in the order it runs (a backward pass: dlogits, dW2, ...,
    # each from the ones before). A wrong answer is judged at its first wrong stage: the verdict names it and
    # the stages before it that are right, and a known mistake is recognised by its value at that stage alone,
    # whatever the later stages inherited.
    staged: bool = False
    # What the reference is and what it computes, as the verdicts name them; change them
    # for exercises whose `reference` is not autograd's derivative (e.g. a loss value).
    compared_with: str = "torch.autograd"
    quantity: str = "the derivative"
    # check_gradient's Jacobians: a better word than "shape (3, 2) should be (2, 3)" for a wrong shape,
    # called as shape_advice(output name, the answer's shape, the expected shape) -> message or None.
    shape_advice: Optional[Callable[[str, tuple, tuple], Optional[str]]] = None
    # The name the answer has in the lesson's notebook (`def dz_dx(x)`, `two_backward = ...`), where bulk
    # grading (checker.grading) looks it up. None: the name `signature` starts with, else the id after the dot.
    answer_name: Optional[str] = None
    # How the answer is measured when it is not a function of numbers (checker.engine.harness.Harness), and
    # what the exercise edition's answer is before it is attempted, when it is not a function that
    # raises NotImplementedError (a class whose methods do). None: a plain function.
    harness: Optional[Any] = None
    stub: Optional[Any] = None
    # A lesson figure for a wrong answer: figure(answer, failing cases) -> PNG bytes or None, shown
    # under the verdict in a notebook (e.g. the smallest graph where an engine goes wrong).
    figure: Optional[Callable[..., Any]] = None
    # Practice variants of this exercise: an object whose `variant(seed)` returns a new Exercise (a family of
    # checker.lessons.families). None: this exercise has none.
    variants: Optional[Any] = None
    _hints_shown: int = field(default=0, repr=False, compare=False)
    # The autograd reference at the exercise's own (deterministic) points, computed by the first
    # check and reused by the next ones. init=False: dataclasses.replace() starts without it.
    _reference_cache: Any = field(default=None, init=False, repr=False, compare=False)
    # Each known mistake's outputs at those points, computed the first time a wrong answer is diagnosed.
    _mistake_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.wrt is None:
            self.wrt = self.inputs
        if self.outputs is None:
            self.outputs = tuple(f"d/d{name}" for name in self.wrt)
        if self.answer_name is None:
            named = re.match(r"\s*([A-Za-z_]\w*)\s*[(=]", self.signature or "")
            self.answer_name = named.group(1) if named else self.id.split(".", 1)[-1]
        if self.kind == "value":
            self.batched = False
            self.forbid_autograd = False
            self.require_autograd = False
        if self.require_autograd:
            self.forbid_autograd = False
        if self.pass_as != "tensor" and len(self.precisions) > 1:
            raise ExerciseDefinitionError(f"{self.id}: precisions need pass_as='tensor'")

    def measured(self, answer: Any) -> Any:
        """The answer as the judge calls it at a point: the answer itself, or, with a harness, the
        answer measured by it (a function of a case that returns numbers, see checker.engine.harness)."""
        if self.harness is None:
            return answer
        from .harness import measure

        return measure(self.harness, answer)

    @property
    def lesson(self) -> str:
        return self.id.split(".", 1)[0]

    def arguments(self, point: tuple, dtype=None) -> tuple:
        """What the answer is called with at `point`: Python floats, CPU tensors (float ones in `dtype`, by default
        the exercise's own), or a harness's case as it is."""
        if self.pass_as == "float":
            return tuple(float(v) for v in point)
        if self.pass_as == "case":  # a harness's case: plain values, given as they are
            return tuple(point)
        import torch

        dtype = dtype if dtype is not None else getattr(torch, self.dtype)

        def tensor(value):  # a fresh copy: float values in the dtype, integer tensors (class labels) as they are
            if isinstance(value, torch.Tensor) and not (value.is_floating_point() or value.is_complex()):
                return value.detach().to("cpu").clone()
            return as_float64(value).to(dtype).clone()

        return tuple(tensor(v) for v in point)


def as_float64(value) -> Any:
    """A number or tensor as a float64 CPU tensor, detached from any graph."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to(device="cpu", dtype=torch.float64)
    return torch.tensor(value, dtype=torch.float64, device="cpu")
