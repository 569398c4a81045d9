"""Errors every surface maps the same way: bad request → 4xx, not found → 404, unavailable → 503."""


class McDeweyError(Exception):
    status = 500


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
