"""The garbage collector's pace around start-up (issue 17).

Start-up (a command's imports, a gateway's assembly) allocates objects that live as long as
the process: the default pace (a young collection every 700 allocations, older ones in turn)
walks them again and again and finds nothing, ~20 ms of a cold start. The CLI entry point
raises the threshold for start-up; a gateway puts the previous pace back once it is ready, so
a serving process collects young objects exactly as before. A one-shot command ends first.

Full collections (the oldest generation) are different in a server holding many sockets: one
walks every tracked object (~95 per idle socket; ~45 ms at 1000 sockets here), and the
collector starts one when an allocation happens to cross its count, i.e. in the middle of
work, most often of the largest piece of work (a broadcast to every socket). Once ready, the
gateway's full collections are taken off the allocation count (`steady()` returns the pace)
and run from a timer at a quiet moment (server/gc_pacer.py), by CPython's own rule: after
`threshold2` middle collections, once the heap grew by a quarter since the last full one.
The young and middle generations stay automatic (each a fraction of a millisecond).
"""

from __future__ import annotations

import gc
import sys

import attrs

STARTUP_THRESHOLD = 10_000
# threshold2 while paced: the collector never starts a full collection itself.
AUTOMATIC_FULL_OFF = 1 << 30
# As CPython's rule (long_lived_pending > long_lived_total / 4): a full pass costs as much as
# the heap is large, so it waits until the heap grew by a quarter; the quadratic cost of
# collecting often while a heap grows is amortised away.
FULL_GROWTH = 1.25
_saved: tuple[int, ...] | None = None
_pace: FullPace | None = None


def startup() -> None:
    """Collect young objects every STARTUP_THRESHOLD allocations until steady() is called."""
    global _saved
    if _saved is None:
        _saved = gc.get_threshold()
        gc.set_threshold(STARTUP_THRESHOLD, *_saved[1:])


@attrs.define
class FullPace:
    """When a full collection is due. The heap's size is read as pymalloc's allocated block
    count (sys.getallocatedblocks: O(1); CPython's own long-lived counts are not exposed)."""

    every: int  # middle-generation collections between two full ones (CPython's threshold2)
    baseline: int  # allocated blocks right after the last full collection (or at ready)

    def due(self, middle_collections: int, blocks: int) -> bool:
        return middle_collections >= self.every and blocks >= self.baseline * FULL_GROWTH


def steady() -> FullPace | None:
    """Back to the pace before startup(), and the start-up's survivors frozen; nothing to do
    when startup() was never called (a test running a gateway inside its own process).
    Returns the pace of full collections the caller now runs (see the module docstring), or
    None when nothing changed.

    Frozen (gc.freeze: the permanent generation) so that no later collection walks them
    again. A full collection walks every tracked object (~0.55 µs each here): at 1000
    connections a gateway holds ~170 000 and a full pass took ~90 ms in the middle of a
    broadcast; the ~45 000 of a ready gateway (modules, config, services) live as long as the
    process. What a config reload later drops of them is still freed by reference counting
    (only a cycle among them would stay).
    """
    global _saved, _pace
    if _saved is not None:
        young, middle, full_every = _saved
        gc.set_threshold(young, middle, AUTOMATIC_FULL_OFF)
        _saved = None
        # No gc.collect() first: it would cost the first client ~30 ms; start-up's few
        # garbage cycles stay (a bounded, one-time cost, seen in `RSS after ready`).
        gc.freeze()
        _pace = FullPace(every=full_every, baseline=sys.getallocatedblocks())
    # A gateway restarted in the same process gets the same pace again (the automatic full
    # collections stay off: a pacer must run).
    return _pace
