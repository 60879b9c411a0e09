"""Running the gateway as a background service (cli.md §1.8, §7).

- identity.py   service names (unit, label), the canonical-install guard, the env we record
- systemd.py    the user unit (Type=notify), its secrets file, and the `systemctl --user` driver
- launchd.py    the LaunchAgent plist and the `launchctl` driver (macOS)
- detached.py   no service manager: a setsid child with a verified pidfile
- manager.py    picks one for this host; `inspect()` for doctor
- actions.py    install/start/stop/restart/uninstall with the official results and messages
"""
