"""Errors every surface maps the same way: bad request → 4xx, not found → 404, unavailable or busy → 503."""


class McDeweyError(Exception):
    status = 500

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error's status (REST)."""
        return {}


class BadRequest(McDeweyError, ValueError):
    """The caller asked for something malformed (empty query, absurd top_k, unknown filter)."""

    status = 400


class NotFound(McDeweyError, KeyError):
    """No such chunk, document or page."""

    status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class Unavailable(McDeweyError):
    """A backend (Chroma, the LLM) cannot be reached right now; retrying later may work."""

    status = 503


class Busy(Unavailable):
    """Every answer slot is taken and the line is full: refused at once rather than queued without end.

    `retry_after` (seconds) goes back to the caller (REST: the `Retry-After` header of the 503).
    """

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class NothingIndexed(Unavailable):
    """The data directory holds no index yet (or an empty one): the reason names what to run."""
