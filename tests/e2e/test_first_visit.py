"""First and repeat visits in Chromium (issue 17): the login page, anonymous and with an
empty cache, costs at most 40 KB, its stylesheet and htmx compressed; once logged in, the
pages that follow ask the server for no static file (hashed names, immutable for a year).

Bytes are what Chromium received (Network.loadingFinished's encodedDataLength: headers
and body as sent). Static requests are counted twice: by the server (every request that
reaches the WSGI app) and by Chromium (requests not served from its cache); the two
must agree, and both count the files again when Chromium's cache is turned off, so a
zero is not a counter that sees nothing. `pytest -s` prints the figures."""

from playwright.sync_api import expect

from seeds.demo import DEMO_PASSWORD, load_demo

BUDGET = 40 * 1024
LINKED = ("/static/css/forprev.", "/static/vendor/htmx/", "/static/js/forprev.", "/static/favicon.")


class Network:
    """What Chromium fetched, through a CDP session: each request's URL, whether its cache
    answered it, its bytes on the wire and its response's Content-Encoding."""

    def __init__(self, context, page):
        self.cdp = context.new_cdp_session(page)
        self.requests: dict[str, dict] = {}
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.requestServedFromCache", self._from_cache)
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.send("Network.enable")

    def _sent(self, event):
        self.requests[event["requestId"]] = {"url": event["request"]["url"], "cached": False}

    def _from_cache(self, event):
        self.requests[event["requestId"]]["cached"] = True

    def _response(self, event):
        response = event["response"]
        entry = self.requests[event["requestId"]]
        if response.get("fromDiskCache") or response.get("fromMemoryCache"):
            entry["cached"] = True
        headers = {name.lower(): value for name, value in response["headers"].items()}
        entry["encoding"] = headers.get("content-encoding")
        entry["status"] = response["status"]

    def _finished(self, event):
        self.requests[event["requestId"]]["bytes"] = event["encodedDataLength"]

    def clear(self) -> None:
        self.requests.clear()

    def fetched(self) -> list[dict]:
        """The requests that went to the network (not answered by the cache)."""
        return [r for r in self.requests.values() if not r["cached"]]

    def static(self) -> list[dict]:
        return [r for r in self.fetched() if "/static/" in r["url"]]


def _count_static_requests(app) -> list[str]:
    """Every /static/ request that reaches the app, in order."""
    seen: list[str] = []
    served = app.wsgi_app

    def counting(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/static/"):
            seen.append(environ["PATH_INFO"])
        return served(environ, start_response)

    app.wsgi_app = counting
    return seen


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def test_first_visit_is_small_and_compressed_and_later_pages_fetch_no_static_file(
    app, db, browser, live_server
):
    load_demo(db)
    db.commit()
    server_static = _count_static_requests(app)
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    network = Network(context, page)

    # first visit: anonymous, nothing cached
    _visit(page, live_server + "/connexion")
    first = [r for r in network.requests.values() if r["url"].startswith(live_server)]
    assert all(not r["cached"] and r["status"] == 200 for r in first), first
    total = sum(r["bytes"] for r in first)
    print(f"\nPremière visite de /connexion : {len(first)} requêtes, {total} octets reçus")
    for r in first:
        name = r["url"].removeprefix(live_server)
        print(f"  {name} : {r['bytes']} octets, {r['encoding'] or 'non compressé'}")
    assert total <= BUDGET, f"{total} octets > {BUDGET}"
    static = {r["url"].removeprefix(live_server): r for r in network.static()}
    assert sorted(static) == sorted(server_static)
    for prefix in LINKED:
        assert any(url.startswith(prefix) for url in static), f"{prefix} non demandé"
    for url, r in static.items():
        if url.endswith((".css", ".js")):
            assert r["encoding"] in ("br", "gzip"), f"{url} non compressé"

    # logged in, then two other pages: every static file comes from the cache
    network.clear()
    del server_static[:]
    page.get_by_label("E-mail ou numéro Forprev").fill("ROM37899")
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Déconnexion")).to_be_visible()
    page.wait_for_load_state("networkidle")
    for path, heading in (("/mon-compte", "Mon compte"), ("/aide/", "Aide")):
        _visit(page, live_server + path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    pages = [r for r in network.fetched() if "/static/" not in r["url"]]
    cached = [r for r in network.requests.values() if r["cached"]]
    print(
        f"Après connexion, 3 pages : {len(pages)} requêtes de pages, "
        f"{len(network.static())} de fichiers statiques au réseau, "
        f"{len(server_static)} reçues par le serveur, {len(cached)} servies par le cache"
    )
    assert server_static == [] and network.static() == []
    assert len(cached) >= 3 * 3  # the stylesheet and both scripts, on each of the 3 pages

    # the counters see static requests when there are some: Chromium's cache turned off
    network.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    network.clear()
    _visit(page, live_server + "/aide/")
    fetched = sorted(r["url"].removeprefix(live_server) for r in network.static())
    print(f"Cache désactivé, /aide/ : {len(server_static)} fichiers statiques demandés")
    assert len(server_static) >= 3 and fetched == sorted(server_static)
    context.close()
