"""What plugin code may do to the recaug process while it runs, and what it may not.

- **stdout is recaug's**: ``--json`` prints results there, so whatever plugin code prints goes
  to stderr instead (``plugin_code``). Output a plugin writes to file descriptor 1 directly
  (a C library, a subprocess) is not caught.
- **sys.exit() in a plugin is the plugin's failure, not recaug's exit**: the callers turn
  ``SystemExit`` into a plugin failure, so a run is marked failed and the exit code is recaug's.
  Ctrl-C (``KeyboardInterrupt``) still stops everything: that is the user's decision.
- **A plugin that takes long to load is named** (``slow_notice``): an import or a hook that
  blocks would otherwise hang every command, ``--help`` included, without a word.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

SLOW_LOAD_S = 5.0


@contextlib.contextmanager
def plugin_code() -> Iterator[None]:
    """Run plugin code with ``print`` (and anything else written to ``sys.stdout``) sent to
    stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


@contextlib.contextmanager
def slow_notice(what: str, hint: str, after_s: float | None = None) -> Iterator[None]:
    """Say on stderr that ``what`` is still running once it has taken ``after_s`` seconds
    (default ``SLOW_LOAD_S``)."""
    after_s = SLOW_LOAD_S if after_s is None else after_s
    stream = sys.stderr  # the stream of the caller, even if the timer fires later

    def notice() -> None:
        print(f"notice: {what} has taken {after_s:g} s so far; {hint}", file=stream, flush=True)

    timer = threading.Timer(after_s, notice)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def exit_description(exc: SystemExit) -> str:
    """``called sys.exit(3)``, as a failure's reason."""
    return f"called sys.exit({exc.code!r})"
