"""Where an answer's prints go while it is checked (`Printed`).

Standard library only, and nothing of the checker: bulk grading's probe sends this file as text to the
student's kernel and keeps prints there with this same class, so that a verdict shows the same lines in
bulk grading as in the notebook.
"""
import io


class Printed(io.TextIOBase):
    """Where an answer's prints go while it is checked: the first lines are kept, the rest only counted.

    An answer runs once per point (30 and more times), so one debug print would otherwise fill the
    notebook with a hundred lines and bury the verdict."""

    def __init__(self, max_lines: int = 10, max_chars: int = 2000):
        super().__init__()
        self.max_lines, self.max_chars = max_lines, max_chars
        self.kept: list[str] = []
        self.lines = 0
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        for line in pieces:
            self._keep(line)
        return len(text)

    def _keep(self, line: str) -> None:
        self.lines += 1
        if len(self.kept) < self.max_lines and sum(map(len, self.kept)) < self.max_chars:
            self.kept.append(line[:500])

    def text(self) -> str:
        """The kept lines, and how many more there were ("" if nothing was printed)."""
        if self._partial:
            self._keep(self._partial)
            self._partial = ""
        if not self.lines:
            return ""
        more = self.lines - len(self.kept)
        return "\n".join(self.kept) + (f"\n... ({more} more line{'s' if more != 1 else ''})" if more else "")
