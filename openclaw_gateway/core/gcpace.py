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
    """Back to the pace before startup(), and the start-up's survivors frozen; nothing to do
    when startup() was never called (a test running a gateway inside its own process).

    Frozen (gc.freeze: the permanent generation) so that no later collection walks them
    again. A full collection walks every tracked object (~0.55 µs each here): at 1000
    connections a gateway holds ~170 000 and a full pass took ~90 ms in the middle of a
    broadcast; the ~45 000 of a ready gateway (modules, config, services) live as long as the
    process. What a config reload later drops of them is still freed by reference counting
    (only a cycle among them would stay).
    """
    global _saved
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
        # No gc.collect() first: it would cost the first client ~30 ms; start-up's few
        # garbage cycles stay (a bounded, one-time cost, seen in `RSS after ready`).
        gc.freeze()
