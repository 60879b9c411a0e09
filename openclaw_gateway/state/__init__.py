"""What the gateway remembers: the SQLite store (the only SQL), the pairing book, the presence
table and the node registry.

State knows nothing of sockets or of the CLI; the server drives it.
"""
