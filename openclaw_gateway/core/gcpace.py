"""The garbage collector's pace around start-up (issue 17).

Start-up (a command's imports, a gateway's assembly) allocates objects that live as long as
the process: the default pace (a young collection every 700 allocations, older ones in turn)
walks them again and again and finds nothing, ~20 ms of a cold start. The CLI entry point
raises the threshold for start-up; a gateway puts the previous pace back once it is ready, so
a serving process collects exactly as before. A one-shot command ends first.
"""

from __future__ import annotations

import gc

STARTUP_THRESHOLD = 10_000
_saved: tuple[int, ...] | None = None


def startup() -> None:
    """Collect young objects every STARTUP_THRESHOLD allocations until steady() is called."""
    global _saved
    if _saved is None:
        _saved = gc.get_threshold()
        gc.set_threshold(STARTUP_THRESHOLD, *_saved[1:])


def steady() -> None:
    """Back to the pace before startup(); nothing to do when it was never raised."""
    global _saved
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
