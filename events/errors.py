"""The one exception type for bad user input.

It lives in ``events`` because that is the bottom of the one-way data flow
(events -> signals -> strategies -> backtests): every package may import it.
The CLI turns an :class:`InputError` into exit code 2 and prints ``str(err)``,
so the message must name the file, the line, the field and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One defect in one place of an input file.

    ``line`` is the 1-based physical line of the file where the record starts
    (the header is line 1), ``None`` for a problem with the whole file.
    """

    message: str
    path: str | None = None
    line: int | None = None
    field: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        text = ", ".join(where)
        text = f"{text}: {self.message}" if text else self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return text


def in_line_order(problems) -> list[Problem]:
    """Problems grouped by file (in the order the files first appear), each file's in line order (problems about the
    whole file first); otherwise in the order found."""
    problems = list(problems)
    first = {}
    for p in problems:
        first.setdefault(p.path, len(first))
    return sorted(problems, key=lambda p: (first[p.path], -1 if p.line is None else p.line))


class InputError(ValueError):
    """Bad user input: a file, a config or a command-line value.

    Carries every :class:`Problem` found so a validator can report them all at
    once; ``str()`` shows the first ``MAX_SHOWN`` of them.
    """

    MAX_SHOWN = 12

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems: list[Problem] = in_line_order(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        shown = [str(p) for p in self.problems[: self.MAX_SHOWN]]
        if len(self.problems) == 1:
            return shown[0]
        head = f"{len(self.problems)} problems found:"
        more = len(self.problems) - len(shown)
        tail = [f"... and {more} more"] if more else []
        return "\n".join([head] + [f"  - {s}" for s in shown] + tail)
