"""`openclaw doctor`: local checks of the config, secrets, locks, port and service.

A much smaller doctor than the official one, with a simple documented shape: every check
gives `{id, status (ok|warn|fail), message, fix}`, each a single line; `--fix` applies only
safe repairs (permissions, stale lock/pidfile of a dead owner, the service definition) and
never touches the files of a live gateway.

- model.py    Check, Change, Context (what the checks read: env, paths, config, clock, /proc)
- checks.py   one small function per check (CHECKS: all of them, in report order)
- host_checks.py  the checks of host tools (tailscale, ssh) and the service manager
- facts.py    what checks and fixes both read: the lock and its holder, secret files
- fixes.py    the safe repairs, each re-checking that it is still safe right before acting
- runner.py   runs the checks, applies fixes, runs the checks again
"""
