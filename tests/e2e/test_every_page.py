"""axe-core on every page of the app, for the kinds of user who reach it, and on the
fragments htmx swaps in (each tab of a session, an inline error, the downloads and
their progress), in a desktop window and on a phone 390 px wide, where no page may
scroll sideways (a wide table scrolls in its own box). The page list comes from the URL
map and the access expectations, so a new screen is checked the day it appears."""

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.e2e.conftest import Journey
from tests.proof import ACTORS, routes, url_for_rule
from tests.test_proof_access import EXPECTED

# answers that are not pages: files, and fragments checked once swapped into their page
NOT_PAGES = {
    "static",
    "account.my_certificate_pdf",
    "cert_sessions.download_zip",
    "cert_sessions.download_pdf",
    "cert_sessions.progress",
    "dashboard.counter",
    "entity_requests.attestation",
    "instruction.request_attestation",
    "instruction.change_attestation",
    "exports.activity",
    "exports.activity_by_scheme",
    "exports.passport",
    "stats.figure_csv",
    "accreditation_requests.commitment_letter",
    "accreditation_requests.download_document",
    "accreditations.decision_letter",
    "accreditations.document",
    "qualifications.download",
    "account.my_qualification_pdf",
    "imports.refusals",
    "imports.progress",
}
# pages whose content depends on the role: seen by every actor who reaches them
PER_ROLE = {"dashboard.index", "cert_sessions.index", "account.index", "help.index", "stats.index"}
# who looks at a page everybody reaches (one is enough)
PREFERRED = ["anonyme", "gestionnaire_a", "formateur", "instructeur_autre", "administrateur"]
# every page is seen in both: the desktop layout, and a phone's width
WINDOWS = pytest.mark.parametrize(
    "window", [(1280, 900), (390, 844)], ids=["ordinateur", "telephone-390px"]
)


@pytest.fixture(scope="module")
def world_server(world):
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _visits(world) -> list[tuple[str, str]]:
    visits = []
    for rule, method in routes(world.app):
        if method != "GET" or rule.endpoint in NOT_PAGES:
            continue
        allowed = EXPECTED[rule.endpoint]
        if rule.endpoint in PER_ROLE:
            actors = [a for a in ACTORS if a in allowed]
        else:
            actors = [next(a for a in PREFERRED + list(ACTORS) if a in allowed)]
        visits += [(actor, url_for_rule(world, rule)) for actor in actors]
    # a session page in each state, for the one who acts on it
    ids = world.ids
    visits += [
        ("formateur", f"/sessions/{ids['cert_session:trainer']}/stagiaires"),
        ("gestionnaire_a", f"/sessions/{ids['cert_session:entity']}/stagiaires"),
        ("gestionnaire_a", f"/sessions/{ids['cert_session:closed']}/telechargements"),
        ("gestionnaire_a", f"/sessions/{ids['cert_session:closed']}/historique"),
        # an entity request and a change as their caisse's instructor sees them: to decide
        ("instructeur", f"/instruction/entites/{ids['organization:submitted']}"),
        ("instructeur", f"/instruction/modifications/{ids['organization_change:pending']}"),
        # accreditation requests as the one who acts on them sees them, on their widest tabs
        (
            "gestionnaire_a",
            f"/habilitations/demandes/{ids['accreditation_request:draft']}/technique",
        ),
        (
            "gestionnaire_a",
            f"/habilitations/demandes/{ids['accreditation_request:draft']}/pedagogique",
        ),
        (
            "gestionnaire_a",
            f"/habilitations/demandes/{ids['accreditation_request:returned']}/informations",
        ),
        (
            "instructeur",
            f"/habilitations/demandes/{ids['accreditation_request:file_complete']}/technique",
        ),
        (
            "instructeur",
            f"/habilitations/demandes/{ids['accreditation_request:phase_1']}/historique",
        ),
        (
            "administrateur",
            f"/habilitations/demandes/{ids['accreditation_request:cnh']}/informations",
        ),
        # an accreditation with platforms, and the caisse's suspension and approval forms
        ("gestionnaire_a", f"/habilitations/{ids['accreditation:catec']}/technique"),
        ("instructeur", f"/habilitations/{ids['accreditation:catec']}/technique"),
        ("instructeur", f"/habilitations/{ids['accreditation:sst1']}/general"),
        ("gestionnaire_a", f"/habilitations/{ids['accreditation:renewable']}/informations"),
    ]
    return visits


def _journey(browser, base_url: str, world, actor: str, name: str, window) -> Journey:
    """A browser page of `window`'s size (width, height) logged in as `actor`, with the
    session cookie of its test client."""
    width, height = window
    context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": height})
    cookie = world.client(actor).get_cookie("forprev_session")
    if cookie is not None:
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return Journey(page, base_url, f"{name}-{width}px")


@WINDOWS
def test_every_page_for_every_kind_of_user(world, world_server, browser, window):
    visits = _visits(world)
    assert len(visits) >= 30, visits  # the list is built, not empty
    failures = []
    by_actor: dict[str, list[str]] = {}
    for actor, url in visits:
        by_actor.setdefault(actor, []).append(url)
    for actor, urls in by_actor.items():
        journey = _journey(browser, world_server, world, actor, f"page-{actor}", window)
        for url in urls + ["/page-qui-n-existe-pas"]:
            response = journey.page.goto(world_server + url)
            # token pages answer 410 with a page of their own: still a page to check
            if response.status >= 400 and response.status != 410 and "existe-pas" not in url:
                failures.append(f"{actor} {url} : {response.status}")
                continue
            # the browser logs the page's own error status: that one is expected
            journey.problems = [
                p for p in journey.problems if f"status of {response.status} " not in p
            ]
            try:
                journey.check(f"{url}")
            except AssertionError as exc:
                failures.append(f"{actor} {url} :\n{exc}")
                journey.problems.clear()
        journey.page.context.close()
    assert not failures, "\n\n".join(failures)


@WINDOWS
def test_swapped_fragments(world, world_server, browser, window):
    """Each tab of a session once swapped in, an inline error, the downloads tab."""
    journey = _journey(browser, world_server, world, "gestionnaire_a", "fragments", window)
    page = journey.page
    draft = world.ids["cert_session:draft"]
    page.goto(f"{world_server}/sessions/{draft}/session")
    for tab in ["Formateur", "Stagiaires", "Historique", "Session"]:
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        journey.check(f"onglet {tab}")
    # the inline check of a field being left
    postal = page.get_by_label("Code postal")
    postal.fill("123")
    postal.blur()
    expect(page.locator("#postal_code-erreur")).to_be_visible()
    journey.check("erreur en ligne")
    # the downloads of a closed session, with their progress fragment
    closed = world.ids["cert_session:closed"]
    page.goto(f"{world_server}/sessions/{closed}/stagiaires")
    page.get_by_role("tab", name="Téléchargements").click()
    expect(page.get_by_text("Télécharger les certificats")).to_be_visible()
    journey.check("téléchargements")
    page.context.close()
    assert journey.problems == []
