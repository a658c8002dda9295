"""Browser journeys: the app served on a real port, headless Debian Chromium driven by
Playwright, axe-core on every page, screenshots kept for a human to look at."""

import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import require_env

SCREENSHOTS = Path(
    os.environ.get("FORPREV_SCREENSHOTS")
    or Path(__file__).resolve().parent.parent.parent / ".screenshots"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("FORPREV_CHROMIUM") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if not executable:
        executable = require_env("FORPREV_CHROMIUM", "bin/test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# What makes the page wider than the window: the outermost elements past its right edge
# that no box scrolling sideways holds (a box only holds what it contains: an absolutely
# positioned element belongs to its nearest positioned ancestor), and any control cut
# off by a box hiding its overflow.
OVERFLOW = """() => {
  const root = document.documentElement, width = root.clientWidth;
  const overflow = root.scrollWidth - width;
  const held = (el) => {
    let mode = getComputedStyle(el).position;
    if (mode === "fixed") return null;
    for (let box = el.parentElement; box && box !== root; box = box.parentElement) {
      const style = getComputedStyle(box);
      if (mode === "absolute" && style.position === "static") continue;
      if (style.overflowX !== "visible") return style.overflowX;
      if (mode === "absolute") mode = style.position;
      if (mode === "fixed") return null;
    }
    return null;
  };
  const control = "a[href], button, input, select, textarea, summary, [tabindex]";
  const culprits = new Set();
  for (const el of document.body.querySelectorAll("*")) {
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.right <= width + 0.5) continue;
    const box = held(el);
    const cut = box === "hidden" || box === "clip";
    if ((box === null && overflow > 0) || (cut && el.matches(control))) culprits.add(el);
  }
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + [...el.classList].map((c) => "." + c).join("")
    + " « " + el.textContent.trim().replace(/\\s+/g, " ").slice(0, 40) + " »"
    + " jusqu'à " + Math.round(el.getBoundingClientRect().right) + " px";
  const outermost = [...culprits].filter((el) => !culprits.has(el.parentElement));
  return {width, overflow, culprits: outermost.slice(0, 5).map(name)};
}"""


class Journey:
    """A page plus the checks every step makes: the page fits the window's width, axe-core
    finds nothing, the browser reported no CSP or script error, and a screenshot is kept."""

    def __init__(self, page, base_url: str, name: str):
        self.page, self.base_url, self.name = page, base_url, name
        self.problems: list[str] = []
        self.step = 0
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"erreur JS : {exc}"))

    def _console(self, message):
        # a 422 (input to correct) or 409 (concurrent change) is an answer the page shows
        expected = re.search(r"status of (422|409) ", message.text)
        if message.type == "error" and not expected:
            self.problems.append(f"console : {message.text}")

    def goto(self, path: str):
        self.page.goto(self.base_url + path)
        return self.page

    def check(self, label: str) -> None:
        """A screenshot of the current page, then: nothing makes it wider than the window
        (or cuts a control off), axe-core finds nothing, the browser reported no error."""
        from axe_playwright_python.sync_playwright import Axe

        self.page.wait_for_load_state("networkidle")
        self.step += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        self.page.screenshot(
            path=str(SCREENSHOTS / f"{self.name}-{self.step:02d}-{slug}.png"), full_page=True
        )
        layout = self.page.evaluate(OVERFLOW)
        assert layout["overflow"] <= 0 and not layout["culprits"], (
            f"la page déborde horizontalement de {layout['overflow']} px "
            f"sur {layout['width']} px de large : " + " ; ".join(layout["culprits"])
        )
        results = Axe().run(self.page)
        assert results.violations_count == 0, results.generate_report()
        assert self.problems == [], self.problems


@pytest.fixture
def journey(browser, live_server, request):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    run = Journey(page, live_server, request.node.name.replace("test_", ""))
    yield run
    context.close()
    assert run.problems == [], run.problems
