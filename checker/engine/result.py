"""Plain dataclasses for what the checker returns.

They know how to become a dict (for bulk grading) and delegate their notebook and
terminal rendering to `checker.engine.render`, so judging and rendering stay apart.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

STATUSES = ("correct", "incorrect", "not_attempted", "error")


@dataclass
class PointDetail:
    """One point where the answer was checked: inputs, expected and got (as text)."""

    inputs: dict[str, str]
    expected: str
    got: str


@dataclass
class Curve:
    """Expected and answered derivative over the domain, for the plot of a wrong answer."""

    xs: list[float]
    expected: list[float]
    got: list[Optional[float]]
    name: str = "x"


@dataclass
class Result:
    exercise_id: str
    status: str
    message: str
    title: str = ""
    score: float = 0.0
    max_score: float = 1.0
    mistake: Optional[str] = None
    diagnosis: Optional[str] = None  # generic pattern of an unnamed wrong answer: "sign", "factor", ...
    details: list[PointDetail] = field(default_factory=list)
    n_points: int = 0
    curve: Optional[Curve] = field(default=None, repr=False)
    figure: Optional[bytes] = field(default=None, repr=False)  # PNG: an exercise's own figure of a wrong answer
    # "gradient" or "value" (a number to predict, no code): the headline of an error says "answer", not "code"
    exercise_kind: str = ""
    # what the answer printed while it was checked: its first lines, then how many more
    printed: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("curve")
        data.pop("figure")
        data["passed"] = self.passed
        return data

    def _repr_html_(self) -> str:
        from . import render  # on first display: `import checker` does not load it

        return render.result_html(self)

    def __str__(self) -> str:
        from . import render  # on first display: `import checker` does not load it

        return render.result_text(self)

    def __repr__(self) -> str:
        return str(self)


@dataclass
class Hint:
    title: str
    shown: tuple[str, ...]
    total: int

    def _repr_markdown_(self) -> str:
        from . import render  # on first display: `import checker` does not load it

        return render.hint_markdown(self)

    def __repr__(self) -> str:
        from . import render  # on first display: `import checker` does not load it

        return render.hint_text(self)


@dataclass
class Solution:
    title: str
    source: str

    def _repr_markdown_(self) -> str:
        from . import render  # on first display: `import checker` does not load it

        return render.solution_markdown(self)

    def __repr__(self) -> str:
        return f"Solution: {self.title}\n\n{self.source}"
