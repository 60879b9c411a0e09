"""The daemon: the task tree (supervisor), the edge (HTTP head -> probes or WebSocket upgrade),
one connection per socket, the hub (fan-out), admission, events, rpc/ and cron/.

Nothing outside cli/ imports the server: a one-shot `gateway call` or a Python agent never loads
the daemon.
"""
