"""A bad chunk id over MCP reads as its reason once, the way an agent's log shows it, with the official client."""

from __future__ import annotations

import pytest
from fixtures_server import mcp_session
from mcp import McpError
from pydantic import AnyUrl


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("mcdewey://chunks/nonsense", "not a chunk id: 'nonsense' (expected product::version::doc::file::N)"),
        ("mcdewey://chunks/acme::2.0::admin-guide::admin::999",
         "no chunk 'acme::2.0::admin-guide::admin::999' in the library"),
    ],
)
async def test_a_bad_chunk_id_is_one_plain_reason(server_url: str, uri: str, reason: str) -> None:
    async with mcp_session(server_url) as session:
        with pytest.raises(McpError) as caught:
            await session.read_resource(AnyUrl(uri))
    message = caught.value.error.message
    assert "Error creating resource from template" not in message
    assert message == f"Error reading resource {uri}: {reason}"
