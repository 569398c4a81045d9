"""Who may change the library: every write route of REST and MCP, without a right, with the read token
only, and with the admin right; and the cross-site defences (a form post and a `fetch` from another
site, a same-origin page without the CSRF header, a DNS-rebinding Host)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from fixtures_server import mcp_session

from assistant.library_admin.errors import Forbidden
from assistant.settings import Settings
from assistant.surfaces.admin_rights import AdminRights

READ, ADMIN = "read-token-for-tests", "admin-token-for-tests"
REFUSED = (401, 403)


def _rest_writes(url: str, headers: dict[str, str]) -> dict[str, int]:
    """Each write route, asked for something that fails after the rights check (404/400) when allowed,
    except re-index, which queues a job that is cancelled at once."""
    h = dict(headers)
    out = {
        "upload": httpx.post(f"{url}/api/admin/uploads", headers=h, timeout=30,
                             files={"file": ("a.txt", b"", "text/plain")}).status_code,
        "remove": httpx.delete(f"{url}/api/admin/library/no-such-product", headers=h, timeout=30).status_code,
        "restore": httpx.post(f"{url}/api/admin/trash/no-such-item/restore", headers=h, timeout=30).status_code,
        "cancel": httpx.post(f"{url}/api/admin/jobs/no-such-job/cancel", headers=h, timeout=30).status_code,
    }
    reindex = httpx.post(f"{url}/api/admin/reindex", headers=h, timeout=30)
    out["reindex"] = reindex.status_code
    if reindex.status_code == 202:
        cancelled = httpx.post(f"{url}/api/admin/jobs/{reindex.json()['id']}/cancel", headers=h, timeout=30)
        assert cancelled.status_code == 200, cancelled.text
    return out


async def _mcp_writes(url: str, token: str | None) -> dict[str, str]:
    """Each write tool's error text (or 'ok'), asked for something missing when allowed."""
    out = {}
    async with mcp_session(url, token) as session:
        calls = {
            "add_document": {"product": "p", "version": "1", "doc": "d", "name": "a.txt", "content": ""},
            "remove_from_library": {"product": "no-such-product"},
            "restore_from_trash": {"item_id": "no-such-item"},
        }
        for tool, args in calls.items():
            result = await session.call_tool(tool, args)
            out[tool] = result.content[0].text if result.isError else "ok"  # type: ignore[union-attr]
        result = await session.call_tool("reindex_library", {})
        if result.isError:
            out["reindex_library"] = result.content[0].text  # type: ignore[union-attr]
        else:
            out["reindex_library"] = "ok"
            job = result.structuredContent or {}
            await session.call_tool("get_job", {"job_id": job["id"]})
            assert not (await session.call_tool("list_jobs", {})).isError
    return out


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _refused_everywhere(url: str, token: str | None, status: int) -> None:
    assert set(_rest_writes(url, _bearer(token)).values()) == {status}
    if status == 401 and token is None and url:  # MCP itself is closed to a reader without the read token
        return
    errors = anyio.run(_mcp_writes, url, token)
    assert all("MCDEWEY_ADMIN_TOKEN" in text for text in errors.values()), errors


def _allowed_everywhere(server: Any, token: str | None) -> None:
    statuses = _rest_writes(server.url, _bearer(token))
    assert statuses == {"upload": 400, "remove": 404, "restore": 404, "cancel": 404, "reindex": 202}, statuses
    errors = anyio.run(_mcp_writes, server.url, token)
    assert "is empty" in errors["add_document"] and "not in the library" in errors["remove_from_library"], errors
    assert "no item" in errors["restore_from_trash"] and errors["reindex_library"] == "ok", errors


def test_open_on_loopback_without_any_token(admin_server: Any) -> None:
    _allowed_everywhere(admin_server(), None)


def test_read_token_alone_never_changes_the_library(admin_server: Any) -> None:
    server = admin_server(api_token=READ)
    _refused_everywhere(server.url, None, 401)
    _refused_everywhere(server.url, READ, 403)


def test_admin_token_is_the_right_to_change(admin_server: Any) -> None:
    server = admin_server(api_token=READ, admin_token=ADMIN)
    assert set(_rest_writes(server.url, {}).values()) == {401}
    assert set(_rest_writes(server.url, _bearer(READ)).values()) == {401}
    errors = anyio.run(_mcp_writes, server.url, READ)
    assert all("MCDEWEY_ADMIN_TOKEN" in text for text in errors.values()), errors
    _allowed_everywhere(server, ADMIN)
    assert httpx.get(f"{server.url}/api/library", headers=_bearer(ADMIN), timeout=30).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_no_token_beyond_loopback_is_closed(host: str) -> None:
    """The rule itself (a test server cannot bind to another machine's address)."""
    rights = AdminRights(Settings(host=host), loopback=False)
    with pytest.raises(Forbidden, match="MCDEWEY_ADMIN_TOKEN"):
        rights.check({"host": f"{host}:8000"})


def test_open_loopback_refuses_what_came_through_a_proxy() -> None:
    """A reverse proxy in front of a loopback server (Host rewritten to 127.0.0.1) or a public URL."""
    rights = AdminRights(Settings(host="127.0.0.1"), loopback=True)
    rights.check({"host": "127.0.0.1:8000"})
    with pytest.raises(Forbidden, match="proxy"):
        rights.check({"host": "127.0.0.1:8000", "x-forwarded-for": "203.0.113.9"})
    behind = AdminRights(Settings(host="127.0.0.1", public_url="https://docs.example.com"), loopback=True)
    with pytest.raises(Forbidden, match="MCDEWEY_ADMIN_TOKEN"):
        behind.check({"host": "127.0.0.1:8000"})


def test_cross_site_requests_are_refused(admin_server: Any) -> None:
    server = admin_server()
    url = server.url
    own = url.removeprefix("http://")
    form = httpx.post(f"{url}/api/admin/reindex", data={"x": "1"}, timeout=30,
                      headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site",
                               "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 403 and "another site" in form.json()["detail"]
    fetch = httpx.delete(f"{url}/api/admin/library/acme", timeout=30,
                         headers={"Origin": "http://evil.example", "Sec-Fetch-Mode": "cors"})
    assert fetch.status_code == 403 and "evil.example" in fetch.json()["detail"]
    no_csrf = httpx.delete(f"{url}/api/admin/library/acme", timeout=30, headers={"Origin": url})
    assert no_csrf.status_code == 403 and "x-mcdewey-csrf" in no_csrf.json()["detail"]
    rebinding = httpx.delete(f"{url}/api/admin/library/acme", timeout=30, headers={"Host": "evil.example"})
    assert rebinding.status_code == 403 and "evil.example" in rebinding.json()["detail"]
    rights = httpx.get(f"{url}/api/admin/rights", timeout=30, headers={"Host": own}).json()
    assert rights["can_change"] is True and rights["csrf"]
    same_page = httpx.delete(f"{url}/api/admin/library/no-such", timeout=30,
                             headers={"Origin": url, "X-McDewey-CSRF": rights["csrf"]})
    assert same_page.status_code == 404, same_page.text
    assert (server.library / "acme").is_dir()  # nothing refused changed anything
    assert httpx.get(f"{url}/api/admin/jobs", timeout=30).json() == []
