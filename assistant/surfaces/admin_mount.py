"""Library management on the app: the REST routes, the MCP tools and the page, over one `LibraryAdmin`.

`create_app` calls `mount_admin` once; everything of the feature is wired here, so `server.py` keeps a
single line for it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from mcp.server.fastmcp import FastMCP

from assistant.library_admin.admin import LibraryAdmin
from assistant.settings import Settings
from assistant.surfaces.admin_api import UPLOAD_PATH, admin_router
from assistant.surfaces.admin_mcp import register_admin_tools
from assistant.surfaces.admin_rights import AdminRights
from assistant.surfaces.web import render

MANAGE_PATH = "/manage"
# The pages' policy (web.PAGE_CSP) forbids scripts; this page runs one, its own file, and nothing inline.
MANAGE_CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
              "form-action 'self'")

__all__ = ["UPLOAD_PATH", "mount_admin"]


def mount_admin(app: FastAPI, mcp: FastMCP, settings: Settings, loopback: bool) -> LibraryAdmin:
    """Add the management routes and tools; `loopback`: the server is bound to a loopback address."""
    admin = LibraryAdmin(settings)
    rights = AdminRights(settings, loopback)
    app.state.admin = admin
    app.state.admin_rights = rights
    app.include_router(admin_router(admin, rights))
    register_admin_tools(mcp, admin, rights)

    @app.get(MANAGE_PATH, response_class=HTMLResponse, include_in_schema=False)
    def manage(request: Request) -> HTMLResponse:
        page = render("manage.html", max_upload=settings.max_upload_bytes, **rights.describe(request.headers))
        page.headers["Content-Security-Policy"] = MANAGE_CSP
        return page

    return admin
