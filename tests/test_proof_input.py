"""Bad input on every form: hypothesis fills every field of every POST route's form at
once with text, unicode with control characters and NUL, huge strings, dates (jj/mm/aaaa
and ISO, real and impossible), out-of-range numbers, empty values, repeated and missing
fields, mixed with values that pass so the deeper rules are reached too; each form is also
tried with one edge value in every field (year 1, 9999, NUL, 2**63…). The app never answers
5xx; a refused input is answered in French, next to its field when it has one, and never
with a framework's English message. When one field is wrong, the others come back as typed
(Session tab, sign-up).

The routes come from the URL map and their fields from the HTML form that posts to them,
found on the pages of an actor allowed to use it (EXPECTED, tests/test_proof_access.py): a
new form is covered the day it appears, or this proof fails saying it cannot find it. The
CSRF token and the hidden `version` stay as the form gives them (CSRF and the 409 are
proved elsewhere). Each actor posts from a client of its own, logged in from an address
of its own: the world's clients and the login throttle per address are left alone, and
what an accepted input changes is put back (role, results, first-login choices, password).
Run with --hypothesis-show-statistics to see the answers' status codes per route.

Numbers no column holds (past 2**31 and 2**63, 0, -1) go to every `<int:…>` of the URL
map (« Page introuvable »), to every screen's `?page=` (the first page, or the last one
past the end) and to every form's hidden id and version (refused, never a 500).
"""

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from flask import url_for
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from werkzeug.exceptions import HTTPException

from app.blueprints.account.views import NUMBER_WORDS
from app.blueprints.cert_sessions.views import TABS
from app.clock import utcnow
from app.domain.accounts import Purpose, issue_link
from app.models import (
    Accreditation,
    AccreditationRequest,
    CertSession,
    Person,
    Platform,
    Scheme,
    SchemeLevel,
)
from app.models.cert_sessions import SessionState
from tests.proof import (
    ACTORS,
    ARGUMENTS,
    DEMO_PASSWORD,
    csrf_of,
    reference_snapshot,
    restore_reference,
    routes,
    url_for_rule,
)
from tests.proof import (
    PROOF_PDF as PDF,
)
from tests.test_proof_access import EXPECTED

# POST routes whose form cannot be found on the demo, with why that is fine
NO_FORM = {
    # the button shows only after a failed generation, and it sends nothing but the token
    "cert_sessions.retry_generation": "bouton affiché seulement après un échec",
}

# who fills the form when it shows more fields to them than to the first allowed actor
ACTOR_FOR = {
    "account.update_preferences": "formateur",  # the caisse is asked of trainers only
    "account.onboarding": "formateur",  # idem
    "auth.switch": "gestionnaire_a",  # the list of roles shows to those who hold two
    "messages.create": "administrateur",  # the instructor's region is fixed
    "messages.preview": "administrateur",
}

FIXED = re.compile(r"(^|-)(csrf_token|version)$")  # kept as the form gives them

ENGLISH = re.compile(  # WTForms', Flask-WTF's and Werkzeug's own words
    r"\b(This field|Not a valid|not a valid|Invalid|must be|Field must|Number must|"
    r"is required|is missing|The CSRF|Bad Request|Internal Server Error|Please)\b"
)
FRENCH = re.compile(
    r"[éèêàâùûôîçœÉÈÀÇ]|\b(le|la|les|de|des|du|un|une|votre|vos|est|sont|pas|ce|cette|"
    r"au|aux|ou|et|en|plus|saisissez|choisissez|indiquez)\b",
    re.IGNORECASE,
)

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    database=None,  # no example database: a failure prints how to replay it
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- a small HTML tree ---------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list = field(default_factory=list)

    def walk(self) -> Iterator["Node"]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def text(self) -> str:
        if self.tag in ("script", "style"):
            return ""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.root


# --- the forms of a page -------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "textarea" or "button"
    values: list[str] = field(default_factory=list)  # as the form would send them
    options: list[str] = field(default_factory=list)  # what the form offers


@dataclass
class Form:
    targets: list[tuple[str, bool]]  # (url, by htmx)
    fields: dict[str, Field]
    node: Node


def _fields_of(form: Node) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for node in form.walk():
        name = node.attrs.get("name")
        if node.tag not in ("input", "select", "textarea", "button") or not name:
            continue
        kind = node.attrs.get("type", "text") if node.tag == "input" else node.tag
        found = fields.setdefault(name, Field(name, kind))
        if node.tag == "select":
            for option in node.walk():
                if option.tag == "option":
                    value = option.attrs.get("value", option.text())
                    found.options.append(value)
                    if "selected" in option.attrs:
                        found.values.append(value)
            if not found.values and found.options and "multiple" not in node.attrs:
                found.values.append(found.options[0])  # what a browser sends
        elif node.tag == "textarea":
            found.values.append(re.sub(r"^\r?\n", "", node.text()))
        elif kind in ("checkbox", "radio", "button", "submit"):
            found.options.append(node.attrs.get("value", "on" if node.tag == "input" else ""))
            if "checked" in node.attrs:
                found.values.append(found.options[-1])
        else:
            found.values.append(node.attrs.get("value", ""))
    return fields


def forms_of(html: str, page: str) -> list[Form]:
    """Every POST form of the page with the URLs it sends its fields to: its action (the
    page itself when there is none), its buttons' formaction, the data-hx-post of the form, of
    its fields, and of elements elsewhere that include it (data-hx-include="#id")."""
    root = parse(html)
    found = []
    for node in root.walk():
        if node.tag != "form" or node.attrs.get("method", "get").lower() != "post":
            continue
        targets = [(urljoin(page, node.attrs.get("action") or page), False)]
        for inner in [node, *node.walk()]:
            if "formaction" in inner.attrs:
                targets.append((urljoin(page, inner.attrs["formaction"]), False))
            if "data-hx-post" in inner.attrs:
                targets.append((urljoin(page, inner.attrs["data-hx-post"]), True))
        form_id = node.attrs.get("id")
        if form_id:
            for other in root.walk():
                included = other.attrs.get("data-hx-include") == f"#{form_id}"
                if included and "data-hx-post" in other.attrs:
                    targets.append((urljoin(page, other.attrs["data-hx-post"]), True))
        found.append(Form(targets, _fields_of(node), node))
    return found


def form_sending_to(
    html: str, page: str, wanted: Callable[[str], bool]
) -> tuple[Form, str, bool] | None:
    """The first form of the page whose fields go to a URL `wanted` accepts, with that URL
    (one without a query first: formaction and data-hx-post may add one) and whether htmx
    posts it there too."""
    for form in forms_of(html, page):
        urls = [(bool(urlsplit(u).query), u, h) for u, h in form.targets if wanted(u)]
        if urls:
            _, url, _ = min(urls, key=lambda u: u[0])
            return form, url, any(h for _, _, h in urls)
    return None


def form_posting_to(html: str, page: str, path: str) -> tuple[Form, str, bool] | None:
    return form_sending_to(html, page, lambda url: urlsplit(url).path == path)


# --- the actors' own clients -----------------------------------------------------------


class Lab:
    """The world seen through clients of this proof's own, one per actor, each from an
    address of its own (anonymous posts take a new address each time: the login and
    mail-form throttles count per address)."""

    def __init__(self, world):
        self.world = world
        self.app = world.app
        self.engine = world.app.extensions["forprev_engine"]
        self.clients: dict[str, FlaskClient] = {}
        self.numbers = itertools.count(1)
        self.adapter = world.app.url_map.bind("forprev.test")
        self.level_id: int | None = None
        self.reference = reference_snapshot(self.engine)

    def __repr__(self) -> str:
        return "<Lab>"

    def new_address(self) -> str:
        n = next(self.numbers)
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    def client(self, actor: str) -> FlaskClient:
        if actor == "anonyme":
            client = self.app.test_client()
            client.environ_base["REMOTE_ADDR"] = self.new_address()
            return client
        if actor not in self.clients:
            self.clients[actor] = self._login(actor)
        return self.clients[actor]

    def _login(self, actor: str) -> FlaskClient:
        return self.world.login(actor, address=self.new_address())

    def switch_back(self, actor: str, client: FlaskClient | None = None) -> None:
        """Put the actor's role back (an accepted role switch changed it)."""
        client = client or self.clients[actor]
        answer = client.post(
            "/role",
            data={
                "grant_id": str(self.world.ids[f"grant:{actor}"]),
                "csrf_token": csrf_of(client, "/aide/"),
            },
        )
        assert answer.status_code == 302, f"{actor} ne reprend pas son rôle"

    def db(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def set_onboarded(self, actor: str, onboarded: bool) -> None:
        with self.db() as db:
            person = db.get(Person, self.world.ids[f"person:{actor}"])
            person.onboarded_at = utcnow() if onboarded else None
            db.add(person)
            db.commit()

    def back_in_trainer_hands(self, _actor: str) -> None:
        """Results sent or the session returned: hand it back to its trainer."""
        with self.db() as db:
            cert_session = db.get(CertSession, self.world.ids["cert_session:trainer"])
            if cert_session.state != SessionState.TRAINER:
                cert_session.state = SessionState.TRAINER
                cert_session.version += 1
                db.add(cert_session)
                db.commit()

    def draft_at_level_2(self, _actor: str) -> None:
        """The draft in SST level 2 for a while: the trainee form then asks the Forprev
        number (with its « Pré-remplir » button) and the e-mail (the demo has no level 2)."""
        with self.db() as db:
            cert_session = db.get(CertSession, self.world.ids["cert_session:draft"])
            self.level_id = cert_session.scheme_level_id
            cert_session.scheme_level_id = db.exec(
                select(SchemeLevel.id)
                .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
                .where(Scheme.code == "SST", SchemeLevel.level == 2)
            ).one()
            db.add(cert_session)
            db.commit()

    def draft_back_at_its_level(self, _actor: str) -> None:
        with self.db() as db:
            cert_session = db.get(CertSession, self.world.ids["cert_session:draft"])
            cert_session.scheme_level_id = self.level_id
            db.add(cert_session)
            db.commit()

    def restore_password(self, actor: str) -> None:
        """An accepted password change: the demo password again (every demo person has
        the same hash), the login session kept."""
        with self.db() as db:
            demo = db.get(Person, self.world.ids["person:administrateur"]).password_hash
            person = db.get(Person, self.world.ids[f"person:{actor}"])
            person.password_hash = demo
            db.add(person)
            db.commit()

    def link(self, purpose: Purpose) -> str:
        """A fresh link token of someone who is none of the actors."""
        numbers = [spec[0] for spec in ACTORS.values() if spec]
        with self.db() as db:
            person = db.exec(
                select(Person)
                .where(Person.forprev_number.not_in(numbers))  # type: ignore[union-attr]
                .order_by(Person.id)
            ).first()
            email = f"nouvelle-{next(self.numbers)}@exemple.fr"
            raw = issue_link(db, person, purpose, new_email=email)
            db.commit()
        return raw

    def url(self, endpoint: str, **values) -> str:
        with self.app.test_request_context():
            return url_for(endpoint, **values)

    def route_of(self, url: str) -> tuple[str, dict] | None:
        """(endpoint, arguments) a POST to `url` reaches, link tokens left out."""
        try:
            endpoint, args = self.adapter.match(urlsplit(url).path, method="POST")
        except HTTPException:  # not found, not a POST, or a redirect: not a POST route
            return None
        return endpoint, {k: v for k, v in args.items() if k != "token"}

    def pages(self) -> list[str]:
        """Every page an actor may open: each GET route on the world's objects, each tab
        of each of its sessions, and the pages behind real link tokens."""
        pages = set()
        for rule, method in routes(self.app):
            if method != "GET" or rule.endpoint == "static":
                continue
            if rule.endpoint in TOKEN_PURPOSES:
                pages.add(self.url(rule.endpoint, token=self.link(TOKEN_PURPOSES[rule.endpoint])))
            else:
                pages.add(url_for_rule(self.world, rule))
        for key, object_id in self.world.ids.items():
            if key.startswith("cert_session:"):
                for tab in TABS:
                    pages.add(self.url("cert_sessions.tab", cert_session_id=object_id, tab=tab))
            if key.startswith("accreditation_request:"):
                for tab in REQUEST_TABS:
                    pages.add(self.url("accreditation_requests.tab", request_id=object_id, tab=tab))
            if key.startswith("accreditation:"):
                for tab in ACCREDITATION_TABS:
                    pages.add(self.url("accreditations.tab", accreditation_id=object_id, tab=tab))
        # the deactivated person's page (Réactiver), the failed import's (Relancer)
        pages.add(self.url("people.page", person_id=self.world.ids["person:deactivated"]))
        pages.add(self.url("imports.show", run_id=self.world.ids["import_run:failed"]))
        # the merge's confirmation shows once a duplicate is chosen
        pages.add(
            self.url(
                "people.merge_preview",
                person_id=self.world.ids["person:managed"],
                doublon=self.world.ids["forprev_number:person:duplicate"],
            )
        )
        return sorted(pages)

    def request_back_in(self, key: str, phase: str) -> None:
        """An accepted instruction or decision moved one of the world's accreditation
        requests on: back to `phase`, the accreditation a favourable decision gave gone,
        so the next example finds the same form."""
        with self.db() as db:
            request = db.get(AccreditationRequest, self.world.ids[f"accreditation_request:{key}"])
            for accreditation in db.exec(
                select(Accreditation).where(Accreditation.request_id == request.id)
            ).all():
                db.delete(accreditation)
            request.phase, request.version = phase, request.version + 1
            request.decided_at = request.return_comment = request.returned_from = None
            db.add(request)
            db.commit()

    def renewal_undone(self, _actor: str) -> None:
        """An accepted "Renouveler" started a renewal: abandoned, so the button is back."""
        with self.db() as db:
            for request in db.exec(
                select(AccreditationRequest).where(
                    AccreditationRequest.renewal_of_id == self.world.ids["accreditation:renewable"],
                    AccreditationRequest.phase == "brouillon",
                )
            ).all():
                request.phase = "abandonnee"
                db.add(request)
            db.commit()

    def catalogue_back(self, _actor: str) -> None:
        """An accepted catalogue edit or department move: the catalogue and the caisses'
        routing as they were, what was added gone (later forms and tests rely on them)."""
        restore_reference(self.engine, self.reference)

    def person_back(self, _actor: str) -> None:
        """An accepted identity correction or deactivation of the world's person: his
        identity and account as the demo has them."""
        with self.db() as db:
            person = db.get(Person, self.world.ids["person:managed"])
            person.last_name, person.first_name = "SCHMITT", "Paul"
            person.birth_date = date(1970, 10, 3)
            person.active, person.deactivated_at = True, None
            db.add(person)
            db.commit()

    def deactivated_again(self, _actor: str) -> None:
        with self.db() as db:
            person = db.get(Person, self.world.ids["person:deactivated"])
            person.active, person.deactivated_at = False, utcnow()
            db.add(person)
            db.commit()

    def unmerged(self, _actor: str) -> None:
        """An accepted merge: the duplicate is a record of its own again (it held nothing,
        so nothing moved)."""
        with self.db() as db:
            person = db.get(Person, self.world.ids["person:duplicate"])
            person.merged_into_id, person.active, person.deactivated_at = None, True, None
            person.email = "paul.schmitt.doublon@exemple.fr"
            db.add(person)
            db.commit()

    def qualification_back(self, _actor: str) -> None:
        """An accepted withdrawal: the world's qualification again, same id, with a PDF."""
        from app.domain.storage import get_storage
        from app.models import CertificateModel, Qualification

        with self.app.app_context(), self.db() as db:
            if db.get(Qualification, self.world.ids["qualification"]) is not None:
                return
            stored = get_storage().save(
                db, name="qualification-inrs.pdf", content_type="application/pdf", data=PDF
            )
            db.add(
                Qualification(
                    id=self.world.ids["qualification"],
                    person_id=self.world.ids["person:formateur"],
                    certificate_model_id=db.exec(
                        select(CertificateModel.id).where(
                            CertificateModel.name == "Certificat de formateur de formateurs CATEC"
                        )
                    ).one(),
                    valid_from=date.today() - timedelta(days=30),
                    valid_until=date.today() + timedelta(days=700),
                    file_id=stored.id,
                )
            )
            db.commit()

    def instructor_back(self, _actor: str) -> None:
        from app.models import RoleGrant

        with self.db() as db:
            grant = db.get(RoleGrant, self.world.ids["grant:instructeur_extra"])
            grant.active = True
            db.add(grant)
            db.commit()

    def platform_waiting_again(self, _actor: str) -> None:
        """An accepted approval: the world's platform waits for the caisse again."""
        with self.db() as db:
            platform = db.get(Platform, self.world.ids["platform:waiting"])
            platform.cnh_approved_on = None
            db.add(platform)
            db.commit()


REQUEST_TABS = ["informations", "entite", "pedagogique", "technique", "historique"]
ACCREDITATION_TABS = [
    "informations",
    "general",
    "administratif",
    "pedagogie",
    "technique",
    "delegues",
]
TOKEN_PURPOSES = {"account.set_password": Purpose.PASSWORD, "account.confirm_email": Purpose.EMAIL}


def answers_in(html: str) -> dict[str, str]:
    """What the page asks that a person can answer: the sign-up's anti-robot sum."""
    match = re.search(r"Combien font (\w+) plus (\w+)", html)
    if not match:
        return {}
    return {"robot": str(sum(NUMBER_WORDS.index(word) for word in match.groups()))}


def _common_prefix(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


# --- a route and the form that posts to it -------------------------------------------


class Target:
    """One POST route as the actor meets it: the page holding its form, the URL the form
    posts to, and the form as last read."""

    def __init__(self, lab: Lab, endpoint: str, path: str):
        self.lab, self.endpoint = lab, endpoint
        self.path = path  # the rule's URL on the world's objects
        self.actor = self.page = self.url = ""
        self.by_htmx = False
        self.form: Form | None = None
        self.client: FlaskClient | None = None
        self.answers: dict[str, str] = {}
        self.stale = True

    def __repr__(self) -> str:
        return f"<POST {self.url or self.path} par {self.actor or '?'}>"

    def sends_here(self, url: str) -> bool:
        return self.lab.route_of(url) == self.lab.route_of(self.path)

    def find(self, client: FlaskClient, page: str) -> bool:
        answer = client.get(page)
        if answer.status_code != 200 or answer.mimetype != "text/html":
            return False
        html = answer.get_data(as_text=True)
        found = form_sending_to(html, page, self.sends_here)
        if found is None:
            return False
        self.form, self.url, self.by_htmx = found
        self.answers = answers_in(html)
        self.page, self.client, self.stale = page, client, False
        return True

    def discover(self) -> None:
        allowed = EXPECTED.get(self.endpoint, set())
        actors = [a for a in ACTORS if a in allowed]
        if self.endpoint in ACTOR_FOR:
            actors.insert(0, ACTOR_FOR[self.endpoint])
        pages = sorted(self.lab.pages(), key=lambda p: (-_common_prefix(p, self.path), len(p), p))
        for actor in dict.fromkeys(actors):
            client = self.lab.client(actor)
            if any(self.find(client, page) for page in pages):
                self.actor = actor
                return
        pytest.fail(
            f"POST {self.path} ({self.endpoint}) : aucun formulaire n'y envoie ses champs "
            f"sur les pages de {', '.join(actors) or 'personne'} ; s'il n'a vraiment pas de "
            "formulaire, ajoutez-le à NO_FORM avec la raison."
        )

    def current(self) -> Form:
        """The form as the page shows it now (a fresh client for anonymous actors)."""
        if self.actor == "anonyme" or self.stale:
            client = self.lab.client(self.actor)
            if not self.find(client, self.page):
                self.discover()  # e.g. a link token used by an accepted input
        return self.form

    def fuzzable(self) -> list[Field]:
        return [f for f in self.form.fields.values() if not FIXED.search(f.name)]


def _undecided(lab: Lab, _actor: str) -> None:
    """A comment taken sent the world's entity request back, or refused its change: both
    wait for the caisse again, so the next example finds the decision forms."""
    from app.models import Organization, OrganizationChange

    with lab.db() as db:
        organization = db.get(Organization, lab.world.ids["organization:submitted"])
        organization.status, organization.return_comment = "en_validation", None
        organization.version += 1
        change = db.get(OrganizationChange, lab.world.ids["organization_change:pending"])
        change.status, change.comment, change.decided_at = "en_attente", None, None
        change.version += 1
        db.add_all([organization, change])
        db.commit()


def _reopened(lab: Lab, _actor: str) -> None:
    """An answer taken, or a closing: the world's contact request is open again, so the
    next example finds the answer form."""
    from app.models import ContactRequest

    with lab.db() as db:
        row = db.get(ContactRequest, lab.world.ids["contact_request"])
        row.status, row.answer, row.answered_at, row.answered_by_id = "ouverte", None, None, None
        row.closed_at = None
        db.add(row)
        db.commit()


# hooks around a route: before its examples, after them, after an accepted input
BEFORE: dict[str, Callable[[Lab, str], None]] = {
    "account.onboarding": lambda lab, actor: lab.set_onboarded(actor, False),
    "cert_sessions.add_trainee": Lab.draft_at_level_2,
}
AFTER: dict[str, Callable[[Lab, str], None]] = {
    "account.onboarding": lambda lab, actor: lab.set_onboarded(actor, True),
    "cert_sessions.add_trainee": Lab.draft_back_at_its_level,
}
AFTER_ACCEPTED: dict[str, Callable[[Lab, str], None]] = {
    "account.onboarding": lambda lab, actor: lab.set_onboarded(actor, False),
    "account.change_password": lambda lab, actor: lab.restore_password(actor),
    "auth.switch": lambda lab, actor: lab.switch_back(actor),
    "cert_sessions.trainer_results": lambda lab, actor: lab.back_in_trainer_hands(actor),
    "instruction.return_request": _undecided,
    "instruction.refuse_change": _undecided,
    "help.answer_request": _reopened,
    "help.close_request": _reopened,
    "accreditation_decisions.start": lambda lab, a: lab.request_back_in(
        "file_complete", "dossier_complet"
    ),
    "accreditation_decisions.complete": lambda lab, a: lab.request_back_in(
        "phase_1", "instruction_phase_1"
    ),
    "accreditation_decisions.incomplete": lambda lab, a: lab.request_back_in(
        "phase_1", "instruction_phase_1"
    ),
    "accreditation_decisions.favourable": lambda lab, a: lab.request_back_in("cnh", "decision_cnh"),
    "accreditation_decisions.unfavourable": lambda lab, a: lab.request_back_in(
        "cnh", "decision_cnh"
    ),
    "accreditation_requests.renew": Lab.renewal_undone,
    "accreditations.approve_platform": Lab.platform_waiting_again,
    **{
        f"catalogue.{name}": Lab.catalogue_back
        for name in (
            "save_scheme",
            "save_rules",
            "add_model",
            "save_model",
            "save_requirement",
            "add_qualification",
            "remove_qualification",
        )
    },
    "funds.move_department": Lab.catalogue_back,
    "funds.remove_instructor": Lab.instructor_back,
    "people.identity": Lab.person_back,
    "people.deactivate": Lab.person_back,
    "people.reactivate": Lab.deactivated_again,
    "people.merge": Lab.unmerged,
    "qualifications.withdraw": Lab.qualification_back,
}


def _post_routes() -> list:
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    return [
        pytest.param(rule.endpoint, rule.rule, id=rule.rule)
        for rule, method in routes(app)
        if method == "POST" and rule.endpoint not in NO_FORM
    ]


POST_ROUTES = _post_routes()


@pytest.fixture(scope="module")
def lab(world):
    return Lab(world)


@pytest.fixture
def target(lab, endpoint, rule_path):
    rule = next(
        r for r in lab.app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == rule_path
    )
    found = Target(lab, endpoint, url_for_rule(lab.world, rule))
    actor = ACTOR_FOR.get(endpoint)
    if endpoint in BEFORE:
        BEFORE[endpoint](lab, actor)
    try:
        found.discover()
        yield found
    finally:
        if endpoint in AFTER:
            AFTER[endpoint](lab, actor)


# --- values ----------------------------------------------------------------------------


def _day_fr(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


TEXT = st.text(max_size=40)
UNICODE = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
CONTROL = st.text(
    st.one_of(st.characters(max_codepoint=0x1F), st.sampled_from("\x00\x7f\u200b\u202e\ufeff")),
    min_size=1,
    max_size=8,
)
DATES = st.one_of(
    st.dates().map(_day_fr),
    st.dates().map(date.isoformat),
    st.dates(
        min_value=date.today() - timedelta(days=400), max_value=date.today() + timedelta(days=400)
    ).map(_day_fr),
    st.sampled_from(
        [
            "31/02/2026",
            "29/02/2027",
            "00/00/0000",
            "14/07/90",
            "14-07-1990",
            "1990-13-01",
            "99/99/9999",
            "31/12/9999",
            "01/01/0001",
        ]
    ),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(
        ["0", "-1", str(2**31), str(2**63), str(10**40), "1e309", "nan", "-0", " 1 ", "1.5"]
    ),
)
HUGE = st.sampled_from([201, 255, 256, 5_000, 100_001]).flatmap(
    lambda n: st.sampled_from(["x" * n, "é" * n, "x;y;31/02/1990\n" * (n // 15 + 1)])
)
VALUE = st.one_of(st.just(""), TEXT, DATES, NUMBERS, UNICODE, CONTROL, HUGE)


# a value that passes, by field name: deep rules are reached only when the other fields
# pass (never an actor's login: five failures would lock the account out)
PLAUSIBLE = [
    (r"birth", "14/07/1990"),
    (r"date|display", _day_fr(date.today() + timedelta(days=20))),
    (r"email", "marie.dupont@exemple.fr"),
    (r"postal", "67000"),
    (r"current_password", DEMO_PASSWORD),
    (r"password|confirm", "Un-Nouveau-Mot-de-passe-2026"),
    (r"identifier", "XYZ00000"),
    (r"forprev_number", "STE55501"),
    (r"block", "MARTIN;Julie;14/07/1990"),
    (r"", "Durand"),
]


@dataclass(frozen=True)
class Pick:
    """What the form offers (one of its options, the value it holds) or else a value
    that passes, whatever that is when the example runs: the drawn data never depends
    on the world's state, which hypothesis needs to replay an example."""

    index: int

    def among(self, found: Field, answers: dict[str, str]) -> str:
        if found.options:
            return found.options[self.index % len(found.options)]
        if found.name in answers:
            return answers[found.name]
        if found.values and found.values[0]:
            return found.values[0]
        return next(v for pattern, v in PLAUSIBLE if re.search(pattern, found.name))


@dataclass(frozen=True)
class Everywhere:
    """The same text in every field, and the first real choice in every list."""

    text: str

    def among(self, found: Field, answers: dict[str, str]) -> str:
        return next((o for o in found.options if o), self.text) if found.options else self.text


SLOTS = 16  # more than any form has fields
ONE = st.one_of(st.integers(min_value=0, max_value=255).map(Pick), VALUE)
FIELD_INPUT = st.one_of(ONE.map(lambda v: [v]), st.just([]), st.lists(ONE, min_size=2, max_size=3))
INPUT = st.tuples(st.lists(FIELD_INPUT, min_size=SLOTS, max_size=SLOTS), st.booleans())
# tried first on every form: one edge value in every field at once
EDGES = ["01/01/0001", "31/12/9999", "0001-01-01", "\x00", str(2**63), "0", "-1", " "]


def fill(form: Form, drawn: list[list], answers: dict[str, str]) -> dict[str, list[str]]:
    """The fields of the form with the drawn values, slot by slot in name order (missing
    when drawn empty), the CSRF token and the version as the form gives them."""
    sent = {f.name: f.values for f in form.fields.values() if FIXED.search(f.name)}
    fields = sorted(
        (f for f in form.fields.values() if not FIXED.search(f.name)), key=lambda f: f.name
    )
    assert len(fields) <= SLOTS, f"{len(fields)} champs : augmentez SLOTS"
    for found, values in zip(fields, drawn, strict=False):
        sent[found.name] = [v if isinstance(v, str) else v.among(found, answers) for v in values]
    return sent


def _shown(sent: dict[str, list[str]]) -> str:
    return repr(
        {k: [v if len(v) < 80 else f"{v[:40]}…({len(v)})" for v in vs] for k, vs in sent.items()}
    )


# --- what an answer must be ----------------------------------------------------------


def _alerts(root: Node) -> list[Node]:
    return [
        n
        for n in root.walk()
        if n.attrs.get("role") == "alert" or n.classes() & {"error", "form-error"}
    ]


def answer_problems(target: Target, response, sent: dict[str, list[str]]) -> list[str]:
    """What is wrong with the answer to a POST of `sent`: an error 5xx, English, a refusal
    without a French message, a field marked invalid without its message."""
    status = response.status_code
    where = f"POST {target.url} par {target.actor} → {status}"
    if status >= 500:
        return [f"{where} : erreur serveur"]
    if response.mimetype != "text/html":
        return []
    typed = [v for values in sent.values() for v in values]
    html = response.get_data(as_text=True)
    root = parse(html)
    problems = [
        f"{where} : message anglais « {m} »"
        for m in set(ENGLISH.findall(root.text()))
        if not any(m in v for v in typed)
    ]
    alerts = _alerts(root)
    for alert in alerts:
        text = " ".join(alert.text().split())
        if not FRENCH.search(text):
            problems.append(f"{where} : message qui n'est pas en français : « {text[:200]} »")
    ids = {n.attrs["id"]: n for n in root.walk() if "id" in n.attrs}
    invalid = [n for n in root.walk() if n.attrs.get("aria-invalid") == "true"]
    for node in invalid:
        described = [ids.get(i) for i in node.attrs.get("aria-describedby", "").split()]
        if not any(d is not None and d in alerts for d in described):
            problems.append(f"{where} : champ « {node.attrs.get('name')} » invalide sans message")
    shown_again = form_sending_to(html, target.url, target.sends_here) is not None
    if (status >= 400 or (status == 200 and shown_again and invalid)) and not alerts:
        problems.append(f"{where} : aucun message d'erreur")
    return problems


# --- the proofs ------------------------------------------------------------------------


def test_no_form_lists_only_post_routes(world):
    posts = {r.endpoint for r, m in routes(world.app) if m == "POST"}
    assert set(NO_FORM) <= posts, f"NO_FORM nomme des routes sans POST : {set(NO_FORM) - posts}"


def _everywhere(text: str):
    return example(drawn=([[Everywhere(text)]] * SLOTS, False))


def _with_edges(test):
    for text in reversed(EDGES):
        test = _everywhere(text)(test)
    return test


@pytest.mark.parametrize(("endpoint", "rule_path"), POST_ROUTES)
@SETTINGS
@given(drawn=INPUT)
@_with_edges
def test_bad_input_gets_a_french_answer(lab, target, endpoint, rule_path, drawn):
    """Whatever is typed in the form's fields, the answer is never 5xx, a refusal says
    in French what is wrong (next to the field it is about), and no framework speaks
    English."""
    form = target.current()
    if not target.fuzzable():
        return  # a button with nothing to type: finding its form was the proof
    values, htmx = drawn
    sent = fill(form, values, target.answers)
    htmx = htmx and target.by_htmx
    note(f"POST {target.url} par {target.actor}{' (htmx)' if htmx else ''} : {_shown(sent)}")
    response = target.client.post(
        target.url, data=sent, headers={"HX-Request": "true"} if htmx else {}
    )
    event(f"réponse {response.status_code}")  # pytest --hypothesis-show-statistics
    problems = answer_problems(target, response, sent)
    if response.status_code < 400:
        target.stale = True  # the input was taken: re-read the form (version, options)
        if endpoint in AFTER_ACCEPTED:
            AFTER_ACCEPTED[endpoint](lab, target.actor)
    assert not problems, "\n".join(problems)


# --- the rest of the input is kept when one field is wrong -------------------------------

TYPED = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=30)
CHOICE_KINDS = {"select", "radio", "checkbox", "button", "submit"}
NOT_SHOWN_AGAIN = {"password"}  # never sent back to the browser


def _typed_values(data, form: Form, wrong: dict[str, str]) -> dict[str, list[str]]:
    """The form's own values for its lists, hypothesis text in what is typed, radios and
    checkboxes ticked at random, and one field known to be wrong."""
    sent = {}
    for f in form.fields.values():
        if f.name in wrong:
            sent[f.name] = [wrong[f.name]]
        elif FIXED.search(f.name) or f.kind == "select":
            sent[f.name] = f.values
        elif f.kind in ("radio", "checkbox"):
            # a ticked radio cannot be unticked in a browser
            least = 1 if f.kind == "radio" and f.values else 0
            sent[f.name] = data.draw(
                st.lists(st.sampled_from(f.options), min_size=least, max_size=1), label=f.name
            )
        elif f.kind not in CHOICE_KINDS:
            sent[f.name] = [data.draw(TYPED, label=f.name)]
    return sent


def _kept(client, url: str, sent: dict[str, list[str]], wrong: str, skip=()) -> None:
    response = client.post(url, data=sent)
    assert response.status_code == 422, f"POST {url} : {response.status_code}, 422 attendu"
    html = response.get_data(as_text=True)
    again = form_posting_to(html, url, urlsplit(url).path)
    assert again, f"POST {url} : le formulaire n'est pas montré à nouveau"
    form = again[0]
    wrong_field = next(n for n in form.node.walk() if n.attrs.get("name") == wrong)
    assert wrong_field.attrs.get("aria-invalid") == "true", f"{wrong} n'est pas signalé"
    lost = {
        name: (values, form.fields[name].values if name in form.fields else None)
        for name, values in sent.items()
        if name not in skip
        and not FIXED.search(name)
        and form.fields.get(name, Field(name, "")).kind not in NOT_SHOWN_AGAIN
        and (name not in form.fields or form.fields[name].values != values)
    }
    assert not lost, f"POST {url} : saisie perdue (envoyé, remontré) : {lost}"


@SETTINGS
@given(data=st.data())
def test_session_form_keeps_the_other_values(lab, data):
    """A wrong postal code or date: the place, the city, the other fields come back as
    typed."""
    client = lab.client("gestionnaire_a")
    page = lab.url(
        "cert_sessions.tab", cert_session_id=lab.world.ids["cert_session:draft"], tab="session"
    )
    html = client.get(page).get_data(as_text=True)
    found = form_posting_to(html, page, page)
    assert found, f"pas de formulaire Session sur {page}"
    form, url, _ = found
    wrong = data.draw(st.sampled_from([("postal_code", "ABCDE"), ("end_date", "31/02/2026")]))
    sent = _typed_values(data, form, dict([wrong]))
    _kept(client, url, sent, wrong[0])


@SETTINGS
@given(data=st.data())
def test_signup_form_keeps_the_other_values(lab, data):
    """A wrong e-mail address, birth date or name: the other fields and the consent come
    back as typed; the anti-robot answer is asked again on purpose."""
    client = lab.client("anonyme")
    page = lab.url("account.signup")
    html = client.get(page).get_data(as_text=True)
    found = form_posting_to(html, page, page)
    assert found, f"pas de formulaire d'inscription sur {page}"
    form, url, _ = found
    wrong = data.draw(
        st.sampled_from(
            [("email", "pas-une-adresse"), ("birth_date", "31/02/1990"), ("last_name", "R2D2")]
        )
    )
    sent = _typed_values(data, form, dict([wrong]))
    _kept(client, url, sent, wrong[0], skip={"robot"})


# --- numbers no column holds: ids in URLs, page numbers, hidden ids and versions ------

# ids and versions are 32-bit INTEGER columns; past 2**63 no database driver takes them
OUT_OF_RANGE = ["99999999999999999999", str(2**63), str(2**63 - 1), str(2**31), "-1", "0"]
INT_SEGMENT = re.compile(r"<int(?:\([^)]*\))?:(\w+)>")


def _first_allowed(endpoint: str) -> str:
    allowed = EXPECTED.get(endpoint, set())
    return next(a for a in ACTORS if a in allowed)


def _url_with(lab: Lab, rule, name: str, value: str) -> str:
    """The rule's URL on the world's objects, with `value` as its argument `name`."""

    def built(shown: dict[str, str]) -> str:
        return re.sub(r"<(?:[^<>]+:)?(\w+)>", lambda m: shown[m.group(1)], rule.rule)

    real = {a: str(ARGUMENTS[a](lab.world, rule.endpoint)) for a in rule.arguments}
    assert built(real) == url_for_rule(lab.world, rule), f"{rule.rule} : URL mal construite"
    return built({**real, name: value})


def _int_routes() -> list:
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    return [
        pytest.param(rule.endpoint, rule.rule, method, name, id=f"{method} {rule.rule} {name}")
        for rule, method in routes(app)
        for name in INT_SEGMENT.findall(rule.rule)
    ]


@pytest.mark.parametrize(("endpoint", "rule_path", "method", "name"), _int_routes())
def test_ids_no_column_holds_are_not_found(lab, endpoint, rule_path, method, name):
    """Every `<int:…>` of the URL map, given an id past 32 bits, past 2**63, 0 or -1 by
    an actor allowed on the route (so the view would run): the French « Page
    introuvable », never a 500."""
    rule = next(
        r for r in lab.app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == rule_path
    )
    actor = _first_allowed(endpoint)
    client = lab.client(actor)
    problems = []
    for value in OUT_OF_RANGE:
        url = _url_with(lab, rule, name, value)
        data = (
            None if method == "GET" else {"csrf_token": csrf_of(client, "/aide/"), "version": "1"}
        )
        response = client.open(url, method=method, data=data)
        body = response.get_data(as_text=True)
        if response.status_code != 404 or "Page introuvable" not in body:
            problems.append(f"{method} {url} par {actor} → {response.status_code}")
    assert not problems, "\n".join(problems)


NOT_A_PAGE = ["", "abc", "0", "-1", "2.5", "١"]
PAST_THE_END = ["400000000000000000", "99999999999999999999", str(2**63), str(2**31)]
CSRF_VALUE = re.compile(
    r'(name="(?:[\w-]+-)?csrf_token" (?:type="hidden" )?value="|"X-CSRFToken": ")[^"]+'
)
NEXT_PAGE = re.compile(r'href="([^"]+)" rel="next"')


def _get_routes() -> list:
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    return [
        pytest.param(rule.endpoint, rule.rule, id=rule.rule)
        for rule, method in routes(app)
        if method == "GET" and rule.endpoint != "static"
    ]


def _seen(response, whole: bool = True) -> tuple:
    """What the person sees: the status, where it leads, the page (CSRF tokens aside:
    they carry the time they were made)."""
    if response.mimetype != "text/html" or not whole:
        return response.status_code, response.mimetype
    body = CSRF_VALUE.sub(r"\1", response.get_data(as_text=True))
    return response.status_code, response.headers.get("Location"), body


@pytest.mark.parametrize(("endpoint", "rule_path"), _get_routes())
def test_page_numbers_on_every_screen(lab, endpoint, rule_path):
    """`?page=` on every GET route, by an actor allowed on it: what is no page number
    (text, 0, negative) shows the first page; a number past the end, up to ones no
    database integer holds, shows the last page (the one « Page suivante » leads to),
    as Django's paginator's get_page does; never a 500."""
    rule = next(
        r for r in lab.app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == rule_path
    )
    actor = _first_allowed(endpoint)
    client = lab.client(actor)
    url = url_for_rule(lab.world, rule)
    client.get(url)  # shows the flashed messages still waiting (« Rôle actif… »)
    first = client.get(url)
    # a page that changes by itself (the sign-up's anti-robot sum) is compared by status
    # (three looks: two sums may be the same by chance)
    whole = all(_seen(client.get(url)) == _seen(first) for _ in range(3))
    assert first.status_code < 500, f"GET {url} par {actor} → {first.status_code}"
    last = first
    while first.mimetype == "text/html" and (link := NEXT_PAGE.search(last.get_data(as_text=True))):
        last = client.get(unescape(link.group(1)))
    problems = []
    for values, expected, which in (
        (NOT_A_PAGE, first, "la première page"),
        (PAST_THE_END, last, "la dernière page"),
    ):
        for value in values:
            response = client.get(url, query_string={"page": value})
            if _seen(response, whole) != _seen(expected, whole):
                problems.append(
                    f"GET {url}?page={value} par {actor} → {response.status_code}, "
                    f"pas {which} ({expected.status_code})"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("endpoint", "rule_path"), POST_ROUTES)
def test_hidden_ids_and_versions_no_column_holds(lab, target, endpoint, rule_path):
    """Each hidden id or version of every form, given a number no column holds (or 0,
    -1) with the other fields as the form gives them: never a 500, a refusal in French;
    a version the page cannot have given is refused as a malformed form (400) before
    anything is read or saved."""
    form = target.current()
    hidden = [
        f.name
        for f in form.fields.values()
        if f.kind == "hidden" and re.search(r"(^|_)(id|version)$", f.name)
    ]
    problems = []
    for name in hidden:
        for value in OUT_OF_RANGE:
            sent = {f.name: f.values for f in form.fields.values()}
            sent[name] = [value]
            response = target.client.post(target.url, data=sent)
            problems += answer_problems(target, response, sent)
            refused = "La demande n'a pas pu être comprise" in unescape(response.get_data(True))
            if name == "version" and (response.status_code != 400 or not refused):
                problems.append(
                    f"POST {target.url} version={value} → {response.status_code}, 400 attendu"
                )
            if response.status_code < 400:
                problems.append(f"POST {target.url} {name}={value} accepté")
    assert not problems, "\n".join(problems)
