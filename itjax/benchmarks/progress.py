"""A one-line progress bar with rate and ETA, written to stderr (no dependency).

On a terminal the line is redrawn in place (carriage return), at most a few times a
second. When the stream is not a terminal (a log file, CI, a pipe) nothing is
redrawn: a plain line is printed when progress crosses each tenth of the total, or
at most every 30 seconds, so that logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """`h:mm:ss` or `m:ss`; `?` when unknown."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Progress of `total` units of work.

    Args:
      total: the number of units.
      stream: where to write (default: sys.stderr, looked up when created).
      width: width of the bar in characters.
      label: a word before the bar.
      clock: a function returning seconds (for tests).
      enabled: False writes nothing.
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        width: int = 24,
        label: str = "",
        clock=time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.total = max(int(total), 0)
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.label = label
        self.clock = clock
        self.enabled = enabled
        self.done = 0
        self.start = clock()
        self._last_draw = -float("inf")
        self._last_tenth = 0
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self._line_length = 0

    def line(self, note: str = "") -> str:
        """The progress line: bar, count, percent, rate, elapsed and ETA."""
        elapsed = self.clock() - self.start
        fraction = self.done / self.total if self.total else 1.0
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        rate = self.done / elapsed if elapsed > 0 else float("nan")
        eta = (self.total - self.done) / rate if rate and rate == rate else float("nan")
        rate_text = f"{rate:.2f}/s" if rate == rate else "?/s"
        head = f"{self.label} " if self.label else ""
        tail = f" {note}" if note else ""
        return (
            f"{head}[{bar}] {self.done}/{self.total} {100 * fraction:3.0f}% "
            f"{rate_text} elapsed {format_seconds(elapsed)} eta {format_seconds(eta)}{tail}"
        )

    def update(self, steps: int = 1, note: str = "") -> None:
        """Record `steps` more units done, and redraw or log when it is time to."""
        self.done = min(self.done + steps, self.total)
        if not self.enabled:
            return
        now = self.clock()
        if self.interactive:
            if now - self._last_draw >= 0.2 or self.done == self.total:
                self._draw(self.line(note))
                self._last_draw = now
            return
        tenth = int(10 * self.done / self.total) if self.total else 10
        if tenth > self._last_tenth or now - self._last_draw >= 30.0:
            self.stream.write(self.line(note) + "\n")
            self.stream.flush()
            self._last_tenth = tenth
            self._last_draw = now

    def _draw(self, text: str) -> None:
        pad = max(self._line_length - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._line_length = len(text)

    def close(self) -> None:
        """End the line on a terminal."""
        if self.enabled and self.interactive and self._line_length:
            self.stream.write("\n")
            self.stream.flush()
            self._line_length = 0
