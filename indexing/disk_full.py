"""Whether an error means the disk is full, however the layer that hit it says so.

The catalog raises OSError(ENOSPC) naming its file (`catalog.Catalog`); the keyword index's writes
raise OSError(ENOSPC) themselves; Chroma's own SQLite says "database or disk is full" inside its
errors. `mcdewey ingest` tells all of them apart from other failures with `is_disk_full`.
"""

from __future__ import annotations

import errno

NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
NO_SPACE_TEXTS = ("database or disk is full", "No space left on device")


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
        return True
    return any(text in str(exc) for text in NO_SPACE_TEXTS)
