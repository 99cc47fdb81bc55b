"""Progress bars for the demo's longer steps, so it is never silent for more than a moment.

One `rich` Progress display for the whole run: a step with a known size shows a bar that
the step advances; a step whose size the demo cannot see (a stream, a wait for events to
settle) shows a spinner with its elapsed time. `print` keeps working while a bar is shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

T = TypeVar("T")
Advance = Callable[[int], None]

_display = Progress(
    SpinnerColumn(),
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
    transient=True,
)


@contextmanager
def bar(description: str, total: int | None) -> Iterator[Advance]:
    """Show a bar (or, with `total` None, a spinner) until the block ends; yield `advance`."""
    started = not _display.live.is_started
    if started:
        _display.start()
    task: TaskID = _display.add_task(description, total=total)
    def advance(done: int = 1) -> None:
        _display.advance(task, done)

    try:
        yield advance
    finally:
        _display.remove_task(task)
        if started:
            _display.stop()


async def waiting(description: str, work: Awaitable[T]) -> T:
    """Await `work` under a spinner with its elapsed time."""
    with bar(description, None):
        return await work
