"""The process's descriptor limit: raised at start so the connection cap can be generous.

The usual soft RLIMIT_NOFILE is 1024 while the hard limit is far higher; a gateway holding
thousands of sockets needs the hard one (issue 13 §7). Raising the soft limit up to the hard
one needs no privilege.
"""

from __future__ import annotations

UNLIMITED_STAND_IN = 1 << 20  # what "unlimited" is taken to mean when sizing the cap


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    try:
        import resource
    except ImportError:  # not a POSIX system: nothing to raise
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, UNLIMITED_STAND_IN)
    if soft == resource.RLIM_INFINITY or target <= soft:
        return soft if soft != resource.RLIM_INFINITY else UNLIMITED_STAND_IN
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target
