"""Progress reporting and log hygiene for the command line.

On a terminal, progress is a tqdm bar on stderr. When stderr is a file or a pipe (a log, CI)
a bar's carriage-return frames would pile up on one line, so progress is written instead as
a few plain lines per stage: when it starts, at each quarter, and when it ends.

Repeated log messages of one template (the same logger and format string) are printed a few
times, then counted, and one summary line per template closes the command.
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Protocol

#: Lines a repeated log template prints before it is only counted.
REPEAT_LIMIT = 3
#: Milestones (fractions done) at which a log-mode progress writes a line.
MILESTONES = (0.25, 0.5, 0.75)


class Progress(Protocol):
    """What the commands call: ``update(n)`` adds work done, ``set(done, total)`` sets it."""

    def update(self, n: int = 1) -> None: ...

    def set(self, done: int, total: int) -> None: ...

    def note(self, **values: Any) -> None: ...

    def write(self, message: str) -> None: ...


class _LineProgress:
    """Progress as plain lines: start, each quarter, end (with elapsed seconds)."""

    def __init__(self, desc: str, total: int, unit: str, stream: IO[str]) -> None:
        self.desc, self.total, self.unit, self.stream = desc, max(int(total), 0), unit, stream
        self.done = 0
        self.t0 = time.perf_counter()
        self._next = 0
        self._notes = ""
        self._emit(f"{desc}: started" + (f" ({self.total:,} {unit})" if self.total else ""))

    def _emit(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _check(self) -> None:
        if self.total <= 0:
            return
        fraction = self.done / self.total
        while self._next < len(MILESTONES) and fraction >= MILESTONES[self._next]:
            if fraction < 1.0:
                elapsed = time.perf_counter() - self.t0
                self._emit(
                    f"{self.desc}: {MILESTONES[self._next]:.0%} ({self.done:,}/{self.total:,} "
                    f"{self.unit}, {elapsed:.1f} s){self._notes}"
                )
            self._next += 1

    def update(self, n: int = 1) -> None:
        self.done += int(n)
        self._check()

    def set(self, done: int, total: int) -> None:
        self.total = max(int(total), 0)
        self.done = int(done)
        self._check()

    def note(self, **values: Any) -> None:
        self._notes = " " + " ".join(f"{k}={v}" for k, v in values.items())

    def write(self, message: str) -> None:
        self._emit(message)

    def close(self) -> None:
        elapsed = time.perf_counter() - self.t0
        count = f"{self.done:,} {self.unit}, " if self.done else ""
        self._emit(f"{self.desc}: done ({count}{elapsed:.1f} s){self._notes}")


class _BarProgress:
    """A tqdm bar on a terminal."""

    def __init__(self, desc: str, total: int, unit: str, stream: IO[str], leave: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=max(int(total), 1), desc=desc, file=stream, unit=unit, leave=leave)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def set(self, done: int, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def note(self, **values: Any) -> None:
        self.bar.set_postfix(**values)

    def write(self, message: str) -> None:
        self.bar.write(message, file=self.bar.fp)

    def close(self) -> None:
        self.bar.close()


class _Silent:
    """No progress at all (``--no-progress``); messages still reach the stream."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def update(self, n: int = 1) -> None:
        pass

    def set(self, done: int, total: int) -> None:
        pass

    def note(self, **values: Any) -> None:
        pass

    def write(self, message: str) -> None:
        self.stream.write(message + "\n")

    def close(self) -> None:
        pass


@contextmanager
def progress(
    desc: str,
    *,
    total: int = 0,
    unit: str = "",
    enabled: bool = True,
    leave: bool = False,
    stream: IO[str] | None = None,
) -> Iterator[Progress]:
    """A progress reporter for one stage: a bar on a terminal, a few lines in a log.

    Parameters
    ----------
    desc : str
        What the stage does ("search KIC 10797460").
    total : int
        Units of work, when known (0: unknown; `set` may give it later).
    unit : str
        Name of one unit ("sample", "epoch").
    enabled : bool
        False: report nothing (``--no-progress``).
    """
    out = stream if stream is not None else sys.stderr
    reporter: _LineProgress | _BarProgress | _Silent
    if not enabled:
        reporter = _Silent(out)
    elif out.isatty():
        reporter = _BarProgress(desc, total, unit, out, leave)
    else:
        reporter = _LineProgress(desc, total, unit, out)
    try:
        yield reporter
    finally:
        reporter.close()


class RepeatFilter(logging.Filter):
    """Let each (logger, template) through `limit` times, then count it.

    `summary_lines` says how many of each were held back; `install_repeat_filter` logs them
    when the command ends.
    """

    def __init__(self, limit: int = REPEAT_LIMIT) -> None:
        super().__init__()
        self.limit = limit
        self.seen: Counter[tuple[str, int, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        self.seen[key] += 1
        return self.seen[key] <= self.limit

    def summary_lines(self) -> list[str]:
        lines = []
        for (name, _, template), count in self.seen.items():
            if count > self.limit:
                lines.append(
                    f"{count - self.limit} more like {template!r} from {name} not shown "
                    f"({count} in all)"
                )
        return lines


def install_repeat_filter(
    handler: logging.StreamHandler[Any], *, limit: int = REPEAT_LIMIT
) -> RepeatFilter:
    """Attach a `RepeatFilter` to `handler`; its summary is written when the process exits."""
    flt = RepeatFilter(limit)
    handler.addFilter(flt)

    def _summarise() -> None:
        for line in flt.summary_lines():
            handler.stream.write(f"WARNING {line}\n")
        handler.flush()

    atexit.register(_summarise)
    return flt
