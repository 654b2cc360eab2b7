"""The interactive API docs, ``/docs`` (Swagger UI) and ``/redoc``, with a policy of their own.

FastAPI's pages load their scripts and styles from a CDN (:data:`~handoff.web.headers.DOCS_CDN`)
and start Swagger UI with an inline script, which the pages' Content-Security-Policy forbids.
These routes serve the same pages and give each the policy that fits it
(:func:`~handoff.web.headers.docs_content_security_policy`: the CDN, and the inline scripts by
hash); the security headers middleware leaves a policy a response already has alone.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from handoff.web.headers import docs_content_security_policy

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def add_api_docs(app: FastAPI) -> None:
    """Serve the API docs of ``app``, built with ``docs_url=None`` and ``redoc_url=None``."""

    def openapi_url(request: Request) -> str:
        # As FastAPI's own docs routes do: behind a proxy's path prefix, the schema is under it.
        root_path = str(request.scope.get("root_path", "")).rstrip("/")
        return root_path + (app.openapi_url or "/openapi.json")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return _with_own_policy(
            get_swagger_ui_html(
                openapi_url=openapi_url(request),
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _with_own_policy(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return _with_own_policy(
            get_redoc_html(openapi_url=openapi_url(request), title=f"{app.title} - ReDoc")
        )


def _with_own_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_content_security_policy(
        bytes(page.body).decode()
    )
    return page
