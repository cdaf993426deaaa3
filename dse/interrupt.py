"""Ctrl-C and SIGTERM during a run: fail the running trial at once, say how to resume, exit 130.

Optuna marks the running trial FAIL when its objective is interrupted and then logs the
interruption with a full traceback; `resumable` drops that log record, turns SIGTERM into the
same interruption as Ctrl-C (so `kill` and a batch system's stop behave alike), and prints a
single line with the command that resumes.  Worker processes started by `dse run --jobs`
leave that line to their parent (environment variable ``DSE_QUIET_INTERRUPT``).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console

from dse.terminal import printable

#: Set in the environment of `--jobs` workers: their parent prints the resume line.
QUIET_ENV = "DSE_QUIET_INTERRUPT"
#: Exit status of a run stopped by SIGINT or SIGTERM (128 + SIGINT, the shell convention).
INTERRUPTED_EXIT = 130


class _DropInterruptTraceback(logging.Filter):
    """Optuna's two warnings about a trial failed by KeyboardInterrupt: the traceback and
    "Trial N failed with value None" after it."""

    def __init__(self) -> None:
        super().__init__()
        self._follow_up: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._follow_up is not None and message.startswith(self._follow_up):
            self._follow_up = None
            return False
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, KeyboardInterrupt):
            return True
        self._follow_up = message.split(" with parameters", 1)[0] + " with value"
        return False


#: Set by the signal handler: an interruption that Python dropped (raised inside a weakref or
#: garbage-collection callback, "Exception ignored in ...") still ends the run as interrupted.
_SIGNALLED = threading.Event()
_LAST_SIGNAL = [signal.SIGINT]
#: Depth of `deferred` sections: inside one, the handler records the signal without raising.
_DEFERRED = [0]


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    _SIGNALLED.set()
    _LAST_SIGNAL[0] = signal.Signals(signum)
    if _DEFERRED[0]:
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupted() -> bool:
    """Whether a SIGINT or SIGTERM reached this process inside `resumable`, even one whose
    KeyboardInterrupt was swallowed on its way up: loops that wait (the `--n-jobs` parent)
    poll it and stop as if the KeyboardInterrupt had reached them."""
    return _SIGNALLED.is_set()


@contextmanager
def deferred() -> Iterator[None]:
    """A section that an interruption must not cut in two (starting a worker process, which
    would run on unseen): a signal that arrives inside raises KeyboardInterrupt at its end.
    Only `resumable`'s handler defers; elsewhere Python's own raises at once as ever."""
    _DEFERRED[0] += 1
    try:
        yield
    finally:
        _DEFERRED[0] -= 1
    if _DEFERRED[0] == 0 and _SIGNALLED.is_set():
        raise KeyboardInterrupt(_LAST_SIGNAL[0].name)


def hold() -> None:
    """Start a section in which a signal only sets the flag (`interrupted`) and raises nothing,
    not even at its end: for code that must reach a place where the interruption can be
    handled whole (a new trial's objective, which Optuna fails when it raises).  `release`
    ends it."""
    _DEFERRED[0] += 1


def release() -> None:
    """End a `hold` section; the caller checks `interrupted()` next."""
    _DEFERRED[0] -= 1


def _redeliver(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """An unraisable-exception hook: a KeyboardInterrupt that a callback swallowed is neither
    printed (a traceback on the terminal) nor lost: a helper thread sends its signal again a
    moment later, so that the handler runs in ordinary code, not in the hook."""

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and _SIGNALLED.is_set():
            again = threading.Timer(0.01, os.kill, (os.getpid(), _LAST_SIGNAL[0]))
            again.daemon = True
            again.start()
            return
        previous(unraisable)

    return hook


def command_line(command: str, study_file: Path, flags: Mapping[str, object]) -> str:
    """The `dse` command line that repeats this one (flags left at None are omitted)."""
    from dse.redaction import redact_url

    words = ["dse", command, str(study_file)]
    for flag, value in flags.items():
        if value is not None:
            words += [flag, redact_url(str(value)) if flag == "--storage" else str(value)]
    return shlex.join(words)


@contextmanager
def resumable(command: str) -> Iterator[None]:
    """Run a command body so that an interruption ends it with one line naming `command`."""
    optuna_logger = logging.getLogger("optuna.study._optimize")
    log_filter = _DropInterruptTraceback()
    optuna_logger.addFilter(log_filter)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if main else None
    # SIGINT too, unless it is ignored (a background job must keep ignoring it).
    watch_int = main and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if watch_int:
        signal.signal(signal.SIGINT, _raise_interrupt)
    _SIGNALLED.clear()
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _redeliver(previous_hook)
    try:
        yield
        if _SIGNALLED.is_set():  # the KeyboardInterrupt was swallowed on its way up
            raise KeyboardInterrupt("signal")
    except KeyboardInterrupt:
        if main:  # a late signal during the exit must not undo the exit status
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not os.environ.get(QUIET_ENV):
            Console(stderr=True, soft_wrap=True).print(
                f"interrupted; resume with: {printable(command)}", markup=False, highlight=False
            )
        if main:
            # The trial is failed in storage and the line printed: end the process here with
            # 130.  In CI, on a loaded machine, the interpreter's shutdown after an interrupted
            # run twice ended in a death by SIGINT (exit -2) instead; its atexit handlers have
            # nothing left to save.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(INTERRUPTED_EXIT)
        raise typer.Exit(INTERRUPTED_EXIT) from None  # a worker thread's command
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        if watch_int:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook
        optuna_logger.removeFilter(log_filter)
        _SIGNALLED.clear()  # a later run in this process (the API, a thread) starts afresh
