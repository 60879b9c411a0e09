"""What the gateway remembers: the SQLite store (the only SQL), the pairing book, the presence
table and the device records (the live node registry sends frames: server/nodes.py).

State knows nothing of sockets or of the CLI; the server drives it.
"""
