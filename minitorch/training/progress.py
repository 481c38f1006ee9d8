"""A progress bar per epoch: tqdm when it is installed, a plain one-line bar otherwise; none
when stderr is not a terminal (CI logs, pipes), where the per-epoch lines say enough."""
from __future__ import annotations

import sys
import time


class _PlainBar:
    """What tqdm shows, reduced: ``desc  42/100 [####......] 1234 samples/s  loss=0.321``."""

    def __init__(self, total: int, desc: str, stream=None, width: int = 24):
        self.total, self.desc, self.width = total, desc, width
        self.stream = stream or sys.stderr
        self.n, self.postfix, self.start = 0, "", time.perf_counter()
        self.interactive = getattr(self.stream, "isatty", lambda: False)()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.interactive:
            self._draw("\r")

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def _draw(self, prefix: str) -> None:
        done = int(self.width * self.n / max(self.total, 1))
        rate = self.n / max(time.perf_counter() - self.start, 1e-9)
        self.stream.write(f"{prefix}{self.desc} {self.n}/{self.total} [{'#' * done}"
                          f"{'.' * (self.width - done)}] {rate:.1f} it/s {self.postfix}")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self._draw("\r")
            self.stream.write("\n")
            self.stream.flush()


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A bar with ``update(n)``, ``set_postfix_str(s)`` and ``close()``; ``enabled=False`` gives a
    silent one. tqdm is optional (``pip install 'minitorch[demo]'``)."""
    if not enabled:
        return _PlainBar(total, desc, stream=_Null())
    if not sys.stderr.isatty():  # a log file or a pipe: the per-epoch lines say enough
        return _PlainBar(total, desc)
    try:
        from tqdm import tqdm  # optional: pip install tqdm
    except ImportError:
        return _PlainBar(total, desc)
    return tqdm(total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True)


class _Null:
    def write(self, _):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False
