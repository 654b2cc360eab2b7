"""Security headers on every response: each page, the widget, static files, the API, the docs."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from deployment_secrets import secured
from fastapi.testclient import TestClient

from handoff.app import create_app
from handoff.readiness import CheckResult
from handoff.settings import (
    ActionsSettings,
    BankSettings,
    DatabaseSettings,
    GatewaySettings,
    RasaSettings,
    SentimentSettings,
    ServerSettings,
    Settings,
)
from handoff.web.pages import STATIC_DIR

EMBEDDER = "https://bank.example"
OWN = ("http://localhost:8123", "http://127.0.0.1:8123")

NOT_FRAMED = [
    "/agent",
    "/supervisor",
    "/static/agent.css",
    "/static/agent/main.js",
    "/static/demo.js",
    "/favicon.ico",
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/api/agents/me",  # 401
    "/api/demo/identity-token",  # GET: 405
    "/no/such/page",  # 404
]


class FixedProbe:
    name = "rasa"

    async def __call__(self) -> CheckResult:
        return CheckResult("rasa", True, "fine", 1.0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("headers")
    settings = secured(
        Settings(
            server=ServerSettings(port=8123),
            rasa=RasaSettings(url=f"http://127.0.0.1:{closed_port()}"),
            actions=ActionsSettings(url=f"http://127.0.0.1:{closed_port()}"),
            database=DatabaseSettings(url=f"sqlite:///{tmp}/handoff.sqlite"),
            bank=BankSettings(url=f"sqlite:///{tmp}/demobank.sqlite"),
            sentiment=SentimentSettings(model_dir=tmp / "no-sentiment-model"),
            gateway=GatewaySettings(allowed_origins=(EMBEDDER,)),
        )
    )
    with TestClient(create_app(settings, [FixedProbe()])) as test_client:
        yield test_client


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as ``{directive: [sources]}``."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_strict_page_policy(policy: dict[str, list[str]]) -> None:
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert {"ws://localhost:8123", "ws://127.0.0.1:8123"} <= set(policy["connect-src"])


@pytest.mark.parametrize("path", NOT_FRAMED)
def test_the_console_the_supervisor_view_the_api_and_static_files_cannot_be_framed(
    client: TestClient, path: str
) -> None:
    response = client.get(path)

    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert_strict_page_policy(policy)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", ["/", "/widget.js"])
def test_the_demo_page_and_the_widget_may_be_framed_by_own_and_allowed_origins_only(
    client: TestClient, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    policy = directives(response.headers["content-security-policy"])
    assert sorted(policy["frame-ancestors"]) == sorted([*OWN, EMBEDDER])
    assert_strict_page_policy(policy)
    assert "x-frame-options" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect", "/redoc"])
def test_the_api_docs_have_a_policy_that_fits_them(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    policy = directives(response.headers["content-security-policy"])
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert policy["script-src"] == ["'self'", "https://cdn.jsdelivr.net", *map(sha256, inline)]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    if path == "/docs":
        assert inline and "SwaggerUIBundle" in inline[0]
        assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist" in response.text


def test_the_websockets_pass_through_the_headers_middleware(client: TestClient) -> None:
    with client.websocket_connect("/ws/customer", headers={"origin": OWN[0]}) as ws:
        ws.send_json({"type": "ping"})  # not an opening frame: refused, after being accepted
        assert ws.receive()["type"] == "websocket.close"


class InlineFinder(HTMLParser):
    """What a page has that a policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.problems.append("inline <script>")
        if tag == "script" and names.get("src"):
            self.sources.append(str(names["src"]))
        if tag == "link" and names.get("rel") == "stylesheet":
            self.sources.append(str(names["href"]))
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name == "style":
                self.problems.append(f"style= on <{tag}>")
            if name in ("href", "src") and (value or "").lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC_DIR.glob("*.html")))
def test_the_pages_have_no_inline_script_or_style_and_their_files_exist(page: str) -> None:
    finder = InlineFinder()
    finder.feed((STATIC_DIR / page).read_text(encoding="utf-8"))

    assert finder.problems == []
    for source in finder.sources:
        if source.startswith("/static/"):
            assert (STATIC_DIR / source.removeprefix("/static/")).is_file(), source
        else:
            assert source == "/widget.js", source


def test_the_widget_styles_its_shadow_root_without_an_inline_style() -> None:
    script = Path(STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    assert "adoptedStyleSheets" in script
