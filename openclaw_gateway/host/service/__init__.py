"""Running the gateway as a background service (cli.md §1.8, §7).

- identity.py   service names (unit, label), the canonical-install guard, the env we record
- systemd.py    the user unit (Type=notify), its secrets file, and the `systemctl --user` driver
- launchd.py    the LaunchAgent plist and the `launchctl` driver (macOS)
- detached.py   no service manager: a setsid child with a verified pidfile
- manager.py    picks one for this host; `inspect()` for doctor
- actions.py    install/start/stop/restart/uninstall with the official results and messages:
                the shared guards, then the backend of this host's manager (backend.py)
- backend.py    the one interface of systemd_backend.py, launchd_backend.py and
                detached_backend.py; ManagedBackend is what systemd and launchd share
- lifecycle.py  what every backend uses: install options, service program/env, audit line,
                health waits, the unmanaged (foreground) gateway fallback
"""
