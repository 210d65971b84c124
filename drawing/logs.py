"""Quiet by default: the product's own lines and the libraries' real errors.

Library notices (about 50 lines a run, some at ERROR level, such as
TensorFlow's `failed call to cuInit` on every machine without a GPU) teach
people to skip lines, and then they skip the real ones. So the command lines
show the product's own records, library records at ERROR and above except
known harmless ones (`BENIGN_RECORDS`), and every line C++ code writes to
stderr except known notices (`NOISE_LINES`). `--verbose` (or
`QUICKDRAW_VERBOSE=1`, which child processes inherit) shows everything.

C++ code writes to file descriptor 2 directly, so a command's `__main__`
block calls `setup(..., stderr_filter=True)` before it imports TensorFlow or
Beam: descriptor 2 then goes through `python -m drawing.logs`, a filter
process that drains every line even when the command crashes, and that Beam's
worker processes inherit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import IO

VERBOSE_FLAG = "--verbose"
VERBOSE_ENV = "QUICKDRAW_VERBOSE"
VERBOSE_HELP = (
    "show the libraries' own logs too (TensorFlow, Beam, tf.Transform); "
    f"the environment variable {VERBOSE_ENV}=1 does the same for child processes"
)
PRODUCT_LOGGERS = ("drawing", "pipeline", "trainer", "serving", "tools")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _absl_line(levels: str) -> str:
    """The start of an absl log line: level letter and date, time, thread, file."""
    return rf"[{levels}]\d{{4}} [\d:.]+ +\d+ [\w.-]+:\d+\] "


# Lines that C++ code writes to stderr and that never call for action.
NOISE_LINES = {
    # absl's note that it prints before it is configured.
    "absl start-up note": r"WARNING: All log messages before absl::InitializeLog\(\)",
    # INFO and WARNING lines of TensorFlow's C++ (oneDNN notice, CUDA stubs,
    # CPU features, ...): library notices, shown with --verbose.
    "C++ info and warnings": _absl_line("IW"),
    "CPU features, 2nd line": r"To enable the following instructions: .* flags\.$",
    # The 2nd line of the warning tf.data prints as an input error stops the
    # step (a damaged record, say); the product reports the error itself.
    "graph node of a C++ warning": r"\t \[\[\{\{node \w+\}\}\]\]$",
    # oneDNN falls back to Eigen for a boolean op on CPUs without AVX-512.
    "oneDNN bool fallback": _absl_line("E")
    + r"oneDNN supports DT_BOOL only on platforms",
    # The LiteRT interpreter's note as it starts (the on-device model).
    "LiteRT CPU delegate": r"INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$",
}
# An ERROR line that is harmless only on a machine without an NVIDIA driver:
# TensorFlow then runs on the CPU, as it should. With a driver it is real.
CUINIT_LINE = _absl_line("E") + r"failed call to cuInit: "
NVIDIA_DEVICE = "/dev/nvidiactl"

# Library log records at ERROR or above that are harmless.
BENIGN_RECORDS = {
    # tf.Transform's collections in a TF1 graph; the message says it is safe.
    "tf.Transform collections": r"Issue encountered when serializing tft_",
}


def verbose_requested(argv: Sequence[str] | None = None) -> bool:
    """`--verbose` among the arguments, or QUICKDRAW_VERBOSE set to a true value."""
    args = sys.argv[1:] if argv is None else argv
    wanted = os.environ.get(VERBOSE_ENV, "").strip().lower()
    return VERBOSE_FLAG in args or wanted not in ("", "0", "false", "no")


def noise_pattern(gpu_driver: bool | None = None) -> re.Pattern:
    """The stderr lines that the filter drops."""
    if gpu_driver is None:
        gpu_driver = os.path.exists(NVIDIA_DEVICE)
    patterns = list(NOISE_LINES.values())
    if not gpu_driver:
        patterns.append(CUINIT_LINE)
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def filter_lines(lines: Iterable[bytes], out: IO[bytes], noise: re.Pattern) -> None:
    """Copies `lines` to `out`, without the noise, flushing each line at once."""
    for line in lines:
        if not noise.match(line.decode("utf-8", "replace")):
            out.write(line)
            out.flush()


def is_product(record: logging.LogRecord) -> bool:
    """Whether a log record is one of the product's own (its packages')."""
    return record.name.split(".", 1)[0] in PRODUCT_LOGGERS


class QuietFilter(logging.Filter):
    """Lets through the product's records and the libraries' real errors."""

    _benign = re.compile("|".join(BENIGN_RECORDS.values()))

    def filter(self, record: logging.LogRecord) -> bool:
        if is_product(record):
            return True
        if record.levelno < logging.ERROR:
            return False
        return not self._benign.match(record.getMessage())


_state: dict[str, object] = {}


def setup(
    argv: Sequence[str] | None = None,
    *,
    stderr_filter: bool = False,
    filters: Sequence[logging.Filter] = (),
) -> bool:
    """Configures logging for a command line; returns whether it is verbose.

    Idempotent: `__main__` blocks call it before their imports, and `main()`
    calls it again for the callers that import the module instead; `filters`
    given on a later call still join, ahead of the quiet filter.

    Args:
      argv: The command's arguments, searched for `--verbose`.
      stderr_filter: Also pipe file descriptor 2 through the filter process.
        Only for a process of its own (not inside pytest or a notebook).
      filters: Run before the quiet filter, e.g. one that re-labels Beam
        workers' progress records as the product's.
    """
    if "verbose" in _state:
        handler = _state["handler"]
        handler.filters[:0] = [f for f in filters if f not in handler.filters]
        return bool(_state["verbose"])
    verbose = verbose_requested(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    _state.update(verbose=verbose, handler=handler)
    for extra in filters:
        handler.addFilter(extra)
    if not verbose:
        handler.addFilter(QuietFilter())
        if stderr_filter:
            _pipe_stderr_through_filter()
    # Before TensorFlow's import: its logger adds no handler of its own when
    # the root has one, so nothing prints twice. Handlers already there (a
    # test's log capture) stay.
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return verbose


def _pipe_stderr_through_filter() -> None:
    sys.stderr.flush()
    original = os.dup(2)
    process = subprocess.Popen(
        [sys.executable, "-m", "drawing.logs"],
        stdin=subprocess.PIPE,
        stdout=original,
        stderr=original,
    )
    os.dup2(process.stdin.fileno(), 2)
    process.stdin.close()
    _state["filter"] = process

    def restore() -> None:
        # Closing our end lets the filter finish, so that its last lines come
        # before the shell's prompt.
        sys.stderr.flush()
        os.dup2(original, 2)
        # If a child process still holds the pipe, the filter outlives us.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    atexit.register(restore)


def _filter_main() -> None:
    """The filter process: stdin -> stdout without the noise, until EOF."""
    # Ctrl-C reaches the whole process group; keep draining until the end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    filter_lines(sys.stdin.buffer, sys.stdout.buffer, noise_pattern())


if __name__ == "__main__":
    _filter_main()
