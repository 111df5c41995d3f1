"""The API documentation loads without outside network (issue 21, item 7):
/docs (Swagger UI) and /redoc reference no host but Linli's own, and every
script, style and image they reference is served by Linli."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import DOCS_CSP, create_app
from tests.serving import in_process
from infrastructure.settings import Settings

PAGES = ("/docs", "/redoc")
OWN_HOST = "testserver"  # the host TestClient asks for
ANY_URL = re.compile(r"""https?://[^\s"'<>()]+""")


class References(HTMLParser):
    """Every URL a page makes the browser load: script and image sources,
    stylesheets and icons, the spec ReDoc reads."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in ("src", "href", "spec-url", "srcset", "data", "poster"):
                self.found.append((tag, value))


def references(html: str) -> list[tuple[str, str]]:
    parser = References()
    parser.feed(html)
    return parser.found


@pytest.fixture(scope="module")
def docs_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The docs need no store; the app still starts its own (a SQLite file)."""
    path = tmp_path_factory.mktemp("docs") / "linli.sqlite3"
    settings = Settings(store="sqlite", sqlite_path=path, run_projections=False)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_pages_reference_no_other_host(docs_client: TestClient, path: str) -> None:
    page = docs_client.get(path)  # no token: the docs are public
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = references(page.text)
    assert any(tag == "script" for tag, _ in found), found
    for tag, url in found:
        parts = urlsplit(urljoin(f"http://{OWN_HOST}{path}", url))
        assert parts.hostname == OWN_HOST, f"{path} loads {url} (<{tag}>) from another host"
    # Nor anywhere else in the page, in an inline script or style.
    for url in ANY_URL.findall(page.text):
        assert urlsplit(url).hostname == OWN_HOST, url
    for outside in ("cdn.jsdelivr.net", "fonts.googleapis.com", "fonts.gstatic.com", "unpkg.com"):
        assert outside not in page.text


@pytest.mark.parametrize("path", PAGES)
def test_every_asset_of_the_docs_is_served_by_linli(docs_client: TestClient, path: str) -> None:
    page = docs_client.get(path)
    found = [url for tag, url in references(page.text) if tag in ("script", "link", "img")]
    assert len(found) >= 2, found  # the script and the icon at least
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in found:
        asset = docs_client.get(urljoin(path, url))
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
        kind = types[Path(urlsplit(url).path).suffix]
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" not in asset.headers["Cache-Control"], url  # a browser may keep them
    # The document the page shows is served too, without a token.
    spec = "/openapi.json"
    assert spec in page.text
    assert docs_client.get(spec).status_code == 200


def test_the_docs_use_swagger_ui_and_redoc_from_the_installed_package(
    docs_client: TestClient,
) -> None:
    swagger = docs_client.get("/docs").text
    redoc = docs_client.get("/redoc").text
    assert "SwaggerUIBundle(" in swagger
    assert "<redoc spec-url=" in redoc
    bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js[^"]*)"', swagger)
    assert bundle and b"SwaggerUIBundle" in docs_client.get(bundle.group(1)).content
    script = re.search(r'src="([^"]*redoc\.standalone\.js[^"]*)"', redoc)
    assert script and b"Redoc" in docs_client.get(script.group(1)).content
    # Only the known assets: no file of the package, nor of the disk, by name.
    for name in ("core.py", "..%2F..%2Fpyproject.toml", "nothing.js"):
        assert docs_client.get(f"/docs/assets/{name}").status_code == 404


def test_redoc_loads_no_google_fonts(docs_client: TestClient) -> None:
    redoc = docs_client.get("/redoc")
    assert "fonts.googleapis" not in redoc.text and "fonts.gstatic" not in redoc.text
    script = re.search(r'src="([^"]*redoc\.standalone\.js[^"]*)"', redoc.text)
    assert script is not None
    assert b"fonts.googleapis.com/css" not in docs_client.get(script.group(1)).content


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_pages_may_load_their_own_assets_and_nothing_else(
    docs_client: TestClient, path: str
) -> None:
    """Their Content-Security-Policy admits Linli's own scripts, styles and
    images, and names no other host; the other security headers stay."""
    page = docs_client.get(path)
    policy = page.headers["Content-Security-Policy"]
    assert policy == DOCS_CSP
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    for needed in ("script-src", "style-src", "img-src", "connect-src"):
        assert "'self'" in directives[needed], needed
    assert directives["default-src"] == "'none'"
    assert "http" not in policy and "*" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


# ----- in a browser with no network but Linli ----------------------------------------------

CHROMIUM = Path(os.environ.get("LINLI_E2E_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "docs"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true needs the browser: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, in a thread of this process."""
    path = tmp_path_factory.mktemp("served") / "linli.sqlite3"
    app = create_app(Settings(store="sqlite", sqlite_path=path, run_projections=False))
    with in_process(app) as base:
        yield base


def test_swagger_ui_and_redoc_render_with_the_network_cut_off(served: str) -> None:
    """Debian's Chromium, every request to any host but 127.0.0.1 refused:
    both pages render the API (a screenshot of each is kept)."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install -e '.[test]'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []
    failed: list[str] = []

    def only_linli(route) -> None:  # noqa: ANN001
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.route("**/*", only_linli)
            page = context.new_page()
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(f"{served}/docs")
            page.wait_for_selector(".swagger-ui .opblock-tag", timeout=20_000)
            assert page.locator(".swagger-ui .opblock").count() > 50
            assert page.locator(".swagger-ui .opblock-tag", has_text="needs").count() >= 1
            page.screenshot(path=str(ARTIFACTS / "swagger-ui.png"))

            page = context.new_page()
            page.goto(f"{served}/redoc")
            page.wait_for_selector("li[data-item-id]", timeout=20_000)
            assert page.locator("li[data-item-id]").count() > 50
            assert page.get_by_text("register a need (登记)").count() >= 1
            page.screenshot(path=str(ARTIFACTS / "redoc.png"))
        finally:
            browser.close()
    assert refused == []
    # ReDoc's footer shows Redocly's logo from their CDN; the page's policy
    # blocks it before any request leaves, and nothing else fails.
    assert [url for url in failed if "cdn.redoc.ly" not in url] == []
