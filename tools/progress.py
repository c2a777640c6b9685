"""What long work is doing, for the person watching it: on a terminal a rich progress bar
(or a spinner) that says what it waits for; in a log (output not a terminal) plain lines, no
escape codes: each wait once, and the bar's count every tenth of the way.

The simulator, the demo loader, ``make run`` and the bench use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["Bar", "Work"]


class Bar:
    """One bar: ``advance`` it, and say what it is waiting for (``waiting``) or doing
    (``note``)."""

    def __init__(
        self, work: Work, progress: Progress | None, task: TaskID | None, what: str, total: int
    ) -> None:
        self._work, self._progress, self._task = work, progress, task
        self._what, self._total = what, max(total, 1)
        self._done = 0
        self._printed_tenth = 0
        self._last_note = ""

    def advance(self, steps: int = 1, note: str = "") -> None:
        self._done += steps
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=steps, note=note)
            return
        tenth = self._done * 10 // self._total
        if tenth > self._printed_tenth:  # a plain line every tenth of the way
            self._printed_tenth = tenth
            extra = f" ({note})" if note else ""
            self._work.line(f"{self._what}: {self._done}/{self._total}{extra}")

    def note(self, text: str) -> None:
        """What the bar's step is doing now (a log hears of each distinct one once)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, note=text)
        elif text != self._last_note:
            self._work.line(f"{self._what}: {text}")
        self._last_note = text

    def waiting(self, what: str) -> None:
        self.note(f"waiting for {what}…")


class Work:
    """Waits and bars on one console (stderr unless told)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    @property
    def live(self) -> bool:
        """A terminal: spinners and bars redraw in place."""
        return self.console.is_terminal

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """``waiting for <what>…`` while the block runs."""
        if self.live:
            with self.console.status(f"waiting for {what}…"):
                yield
        else:
            self.line(f"waiting for {what}…")
            yield

    @contextmanager
    def bar(self, what: str, total: int) -> Iterator[Bar]:
        if not self.live:
            self.line(f"{what}: 0/{total}")
            yield Bar(self, None, None, what, total)
            return
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"), console=self.console, transient=False,
        )  # fmt: skip
        with progress:
            task = progress.add_task(what, total=total, note="")
            yield Bar(self, progress, task, what, total)
