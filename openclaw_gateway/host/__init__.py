"""The operating system around the process: the state-dir lock, port owners and --force, bind
modes, sd_notify, and service/ (systemd, launchd, detached mode).
"""
