"""Count the commits in a SQLite WAL file: each is one fsync under synchronous=FULL.

Black-box: reads `<db>-wal` as the file format documents it (a 32-byte header with the page
size and two salts, then frames of a 24-byte header + one page; a frame whose second field is
non-zero ends a committed transaction). Frames carrying other salts are left over from before
the last WAL restart and end the count. A transaction that changed nothing writes no frame,
so it is not counted. Valid while no checkpoint restarts the WAL (1000 pages by default),
which the few commits of a test never reach.
"""

from __future__ import annotations

import struct
from pathlib import Path

WAL_MAGIC = (0x377F0682, 0x377F0683)
WAL_HEADER = 32
FRAME_HEADER = 24


def wal_commits(db: Path) -> int:
    try:
        data = db.with_name(db.name + "-wal").read_bytes()
    except FileNotFoundError:
        return 0
    if len(data) < WAL_HEADER:
        return 0
    magic, _version, page_size, _seq, salt1, salt2 = struct.unpack(">6I", data[:24])
    assert magic in WAL_MAGIC, hex(magic)
    commits, offset = 0, WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(data):
        _page, size_after, s1, s2 = struct.unpack(">4I", data[offset : offset + 16])
        if (s1, s2) != (salt1, salt2):
            break
        commits += size_after != 0
        offset += FRAME_HEADER + page_size
    return commits
