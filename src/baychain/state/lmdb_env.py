"""The one LMDB environment a node keeps its state and its blocks in.

State (baychain.state) and the block store share a single environment so that a
block and the state it produces are committed in one LMDB transaction: a crash at
any instant leaves either both or neither on disk. That only holds if commits are
durable, so the environment is opened with full sync (fsync of data and meta pages
on every commit).
"""

from __future__ import annotations

from pathlib import Path

import lmdb

MAX_DBS = 32


def open_env(path: str | Path, map_size: int = 1 << 40) -> lmdb.Environment:
    """Open (creating if needed) the node's LMDB environment directory at `path`.

    `map_size` is the largest the database may grow to; it is address space, not
    memory or disk, so the default of 1 TiB costs nothing on a 64-bit system.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    return lmdb.open(
        str(directory),
        map_size=map_size,
        max_dbs=MAX_DBS,
        subdir=True,
        sync=True,  # fsync on every commit: a committed block survives a crash
        metasync=True,
        readahead=False,  # random access pattern; readahead only pollutes the page cache
        writemap=False,  # a stray pointer write can never corrupt the file
        lock=True,
    )
