"""Routes that serve the browser pages.

* ``GET /``: the demo page, hosting the chat widget with a picker of demo customers.
* ``GET /widget.js``: the chat widget; one ``<script src=".../widget.js" defer></script>`` on
  any page embeds it (the script adds its own markup, styled by a constructed stylesheet).
* ``GET /agent``: the agent console. ``GET /supervisor``: the supervisor view.
* ``/static/*``: the pages' scripts and styles; ``/favicon.ico``: their icon.

The pages are plain HTML, CSS and JavaScript (no build step), with no inline script or style:
every response carries a Content-Security-Policy that forbids them
(:mod:`handoff.web.headers`; ``docs/http-security.md``). They speak the documented
websocket protocols (``docs/protocol.md``, ``docs/agent-protocol.md``) and the REST API, so
nothing here carries state of its own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from handoff.request_bodies import StrictJsonRoute

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False, route_class=StrictJsonRoute)

# Pages change with the code, not per deployment: always revalidate, so a page and the
# protocol it speaks never come from two different releases.
_NO_STALE = {"Cache-Control": "no-cache"}


def _page(name: str, media_type: str = "text/html") -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=_NO_STALE)


@router.get("/")
async def demo_page() -> FileResponse:
    """The demo page: pick a demo customer and chat."""
    return _page("index.html")


@router.get("/widget.js")
async def widget_script() -> FileResponse:
    """The embeddable chat widget."""
    return _page("widget.js", "text/javascript")


@router.get("/agent")
async def agent_console() -> FileResponse:
    """The agent console."""
    return _page("agent.html")


@router.get("/supervisor")
async def supervisor_view() -> FileResponse:
    """The supervisor view."""
    return _page("supervisor.html")


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The pages' icon (browsers ask for this path whatever the page says)."""
    return _page("favicon.svg", "image/svg+xml")


def static_files() -> StaticFiles:
    """The pages' scripts and styles, mounted at ``/static``."""
    return StaticFiles(directory=STATIC_DIR)
