"""The errors of library writes, mapped by every surface like the service's (status + reason)."""

from __future__ import annotations

from assistant.errors import McDeweyError


class Conflict(McDeweyError):
    """The change collides with another in flight (the same file uploading twice) or with the library."""

    status = 409


class TooLarge(McDeweyError):
    """An upload over `MCDEWEY_MAX_UPLOAD_BYTES`, or a zip that would expand past its limits."""

    status = 413


class NoSpace(McDeweyError):
    """The disk filled up while a file was written: nothing of it was kept."""

    status = 507


class Forbidden(McDeweyError):
    """The caller lacks the right to change the library (or the request came from another site)."""

    status = 403
