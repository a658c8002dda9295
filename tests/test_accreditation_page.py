"""An accreditation once granted (SPEC §5): the "Habilitations" lists per role, the tabbed
page (Informations, Général, Administratif, Pédagogie, Technique, Délégués), the decision
letter while valid, suspensions (rules, edge days, notification), platforms added during
the accreditation, approved by the caisse and then offered as a session's lieu."""

import html as html_lib
import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from pypdf import PdfWriter
from sqlalchemy import event, func
from sqlmodel import select
from werkzeug.datastructures import FileStorage

from app.clock import today, utcnow
from app.domain import accreditation_admin as admin
from app.domain import accreditation_flow as flow
from app.domain.access import ActiveRole, accreditation_scope, grants_of
from app.domain.accreditation_flow import PlatformInput
from app.domain.cert_session_rules import (
    SessionFields,
    check_session_fields,
    declarable_accreditations,
    platforms_of,
)
from app.domain.errors import ConflictError, DomainError
from app.domain.uploads import store_upload
from app.models import (
    Accreditation,
    AccreditationRequest,
    AuditEvent,
    CertSession,
    Delegation,
    DocumentRequirement,
    Equipment,
    Notification,
    Platform,
    RequestDocument,
    Suspension,
)
from app.models.accreditations import RequestKind, RequestPhase
from app.models.cert_sessions import SessionState
from app.models.people import Role
from seeds.reference import load_reference
from tests import factories
from tests.conftest import AuthActions, csrf_token


def _pdf(text_size: int = 0) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595 + text_size, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


@dataclass
class World:
    org: object
    other_org: object
    people: dict
    grants: dict
    sst1: Accreditation
    catec1: Accreditation
    expired: Accreditation
    suspended: Accreditation
    foreign: Accreditation
    request: AccreditationRequest
    documents: dict
    letter_bytes: bytes

    def role(self, db, name) -> ActiveRole:
        grant = self.grants[name]
        return next(r for r in grants_of(db, grant.person_id) if r.grant_id == grant.id)


@pytest.fixture
def w(app, db):
    """MAROSE FORMATION (Carsat Alsace-Moselle) with two gestionnaires and a délégataire
    of its SST / 1; a CATEC / 1 from a request with its documents, an approved platform,
    equipment and its decision letter; an expired and a suspended accreditation; FORMATION
    GUY (Cramif) with its own; an instructor of each caisse and an administrator."""
    with app.test_request_context():
        if db.exec(select(DocumentRequirement.id)).first() is None:
            load_reference(db)  # the catalogue's document rows, removed by a previous cleanup
        org = factories.organization(db, name="MAROSE FORMATION")
        org.siret, org.regime = "35600000000048", "Régime général"
        org.signatory_last_name, org.signatory_first_name = "DURAND", "Claire"
        org.signatory_function = "Directrice"
        db.add(org)
        other = factories.organization(
            db, name="FORMATION GUY", postal_code="75011", fund_code="CRAMIF"
        )
        people, grants = {}, {}

        def make(name, role, *, first_name, organization=None, fund=None):
            person = factories.person(
                db, first_name=first_name, last_name=name.upper(), email=f"{name}@exemple.fr"
            )
            people[name] = person
            grants[name] = factories.grant(db, person, role, organization=organization, fund_=fund)

        make("martin", Role.GESTIONNAIRE, first_name="Romain", organization=org)
        make("weber", Role.GESTIONNAIRE, first_name="Karine", organization=org)
        make("petit", Role.DELEGATAIRE, first_name="Stéphane", organization=org)
        make("guy", Role.GESTIONNAIRE, first_name="Guy", organization=other)
        make("klein", Role.INSTRUCTEUR, first_name="Anne", fund=factories.fund(db))
        make("roux", Role.INSTRUCTEUR, first_name="Paul", fund=factories.fund(db, "CRAMIF"))
        make("inrs", Role.ADMINISTRATEUR, first_name="Inès")
        make("formateur", Role.FORMATEUR, first_name="Fabien")

        sst1 = factories.accreditation(db, org, scheme_code="SST", level=1)
        request = AccreditationRequest(
            organization_id=org.id,
            fund_id=org.fund_id,
            scheme_level_id=factories.scheme_level(db, "CATEC", 1).id,
            phase=RequestPhase.FAVOURABLE,
            created_by_id=people["martin"].id,
            submitted_at=utcnow() - timedelta(days=400),
            decided_at=utcnow() - timedelta(days=370),
        )
        db.add(request)
        db.flush()
        documents = {}
        for kind, name in (
            ("engagement", "lettre-signee.pdf"),
            ("programme", "programme-catec.pdf"),
            ("materiel", "entretien-materiel.pdf"),
        ):
            stored = store_upload(
                db,
                FileStorage(io.BytesIO(_pdf()), filename=name, content_type="application/pdf"),
            )
            document = RequestDocument(
                request_id=request.id,
                kind=kind,
                file_id=stored.id,
                uploaded_by_id=people["martin"].id,
            )
            db.add(document)
            db.flush()
            documents[kind] = document
        letter_bytes = _pdf(10)
        letter = store_upload(
            db,
            FileStorage(
                io.BytesIO(letter_bytes), filename="decision.pdf", content_type="application/pdf"
            ),
        )
        catec1 = factories.accreditation(db, org, scheme_code="CATEC", level=1)
        catec1.request_id = request.id
        catec1.decision_letter_file_id = letter.id
        db.add(catec1)
        db.add(
            Platform(
                accreditation_id=catec1.id,
                name="Plateforme Nord",
                address="1 rue du Port",
                postal_code="67100",
                city="STRASBOURG",
                cnh_approved_on=today() - timedelta(days=365),
            )
        )
        db.add(Equipment(accreditation_id=catec1.id, label="Détecteur 4 gaz", quantity=6))
        expired = factories.accreditation(
            db,
            org,
            scheme_code="ALM",
            level=1,
            start=today() - relativedelta(years=6),
            end=today() - relativedelta(months=2),
        )
        suspended = factories.accreditation(db, org, scheme_code="APS-ASD", level=1)
        factories.suspension(
            db, suspended, today() - timedelta(days=10), today() + timedelta(days=10)
        )
        foreign = factories.accreditation(db, other, scheme_code="PRAP-IBC", level=1)
        db.add(Delegation(person_id=people["petit"].id, accreditation_id=sst1.id))
        db.commit()
    # no context left open: the client's requests would share its `g`
    return World(
        org,
        other,
        people,
        grants,
        sst1,
        catec1,
        expired,
        suspended,
        foreign,
        request,
        documents,
        letter_bytes,
    )


@pytest.fixture
def as_(app, w):
    """A client of its own, logged in as one of the world's people."""

    def _as(name):
        client = app.test_client()
        response = AuthActions(client).login(w.people[name].email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return _as


def another(db, org, scheme_code="SST", level=1, *, start=None, end=None) -> Accreditation:
    """Like factories.accreditation, numbered after the entity's others of that
    dispositif-level (a renewal, or many of them for a long list)."""
    scheme_level = factories.scheme_level(db, scheme_code, level)
    sequence = db.exec(
        select(func.count())
        .select_from(Accreditation)
        .where(
            Accreditation.organization_id == org.id,
            Accreditation.scheme_level_id == scheme_level.id,
        )
    ).one()
    start = start or today() - timedelta(days=365)
    acc = Accreditation(
        number=f"H{org.code}/{start.year}/{scheme_code}-{level}/O/{sequence:02d}",
        organization_id=org.id,
        scheme_level_id=scheme_level.id,
        sequence=sequence,
        start_date=start,
        end_date=end or today() + timedelta(days=4 * 365),
    )
    db.add(acc)
    db.flush()
    return acc


def url(app, endpoint, **values) -> str:
    from flask import url_for

    with app.test_request_context():
        return url_for(endpoint, **values)


def page_link(acc) -> str:
    return f'href="/habilitations/{acc.id}/informations">{acc.number}</a>'


def _table_row(html: str, number: str) -> str:
    """The <tr> of the list that names `number`."""
    return next(row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if number in row)


# --- "Habilitations": the lists ----------------------------------------------------------


def test_gestionnaire_sees_the_entity_s_accreditations_with_their_status(app, w, as_):
    html = _text(as_("martin").get("/habilitations/"))
    for acc in (w.sst1, w.catec1, w.expired, w.suspended):
        assert page_link(acc) in html
    assert w.foreign.number not in html
    assert "Valide</span>" in _table_row(html, w.sst1.number)
    assert "Expirée</span>" in _table_row(html, w.expired.number)
    assert "Suspendue</span>" in _table_row(html, w.suspended.number)
    row = _table_row(html, w.catec1.number)
    assert '<td class="nowrap">CATEC / 1</td>' in row
    assert f"du {w.catec1.start_date:%d/%m/%Y} au {w.catec1.end_date:%d/%m/%Y}" in row
    create = url(app, "accreditation_requests.create")
    assert f'<form method="post" action="{create}"' in html
    assert "Demande d'habilitation</button>" in html
    # none of these is in its last 12 months
    assert "Renouveler" not in html


def test_an_accreditation_ending_within_six_months_says_so(w, db, as_):
    w.sst1.end_date = today() + relativedelta(months=5)
    db.add(w.sst1)
    db.commit()
    html = _text(as_("martin").get("/habilitations/"))
    assert "Valide — expire dans moins de 6 mois" in _table_row(html, w.sst1.number)


def test_renouveler_shows_exactly_twelve_months_before_the_end(app, db, w, as_):
    """The day the window opens the button is there; the day before it is not; once a
    renewal is running it is gone (on the list and on the page)."""
    opens_today = factories.accreditation(
        db, w.org, scheme_code="ECHAF", level=1, end=today() + relativedelta(months=12)
    )
    opens_tomorrow = factories.accreditation(
        db,
        w.org,
        scheme_code="PRAP-2S",
        level=1,
        end=today() + relativedelta(months=12) + timedelta(days=1),
    )
    db.commit()
    with app.app_context():
        assert flow.renewal_problem(db, opens_today) is None
        assert flow.renewal_problem(db, opens_tomorrow) is not None
    client = as_("martin")
    html = _text(client.get("/habilitations/"))
    renew = url(app, "accreditation_requests.renew", accreditation_id=opens_today.id)
    assert f'action="{renew}"' in _table_row(html, opens_today.number)
    assert "Renouveler" not in _table_row(html, opens_tomorrow.number)
    assert html.count("Renouveler<span") == 1
    page = _text(client.get(f"/habilitations/{opens_today.id}/general"))
    assert f'action="{renew}"' in page and "Renouveler</button>" in page
    later = _text(client.get(f"/habilitations/{opens_tomorrow.id}/general"))
    assert "Renouveler" not in later

    db.add(
        AccreditationRequest(
            organization_id=w.org.id,
            fund_id=w.org.fund_id,
            scheme_level_id=opens_today.scheme_level_id,
            kind=RequestKind.RENEWAL,
            renewal_of_id=opens_today.id,
            created_by_id=w.people["martin"].id,
        )
    )
    db.commit()
    html = _text(client.get("/habilitations/"))
    assert "Renouveler" not in _table_row(html, opens_today.number)
    assert "Renouveler" not in _text(client.get(f"/habilitations/{opens_today.id}/general"))


def test_the_list_s_renewal_answer_is_the_flow_s(app, db, w):
    """`renewable_ids` (the list, two queries) agrees with `flow.renewal_problem` (one
    accreditation) in each case: before the window, in it, renewing, renewed, ended."""
    cases = {}
    for name, scheme, end in (
        ("avant", "ECHAF", today() + relativedelta(months=12) + timedelta(days=1)),
        ("ouverte", "PRAP-2S", today() + relativedelta(months=12)),
        ("dernier_jour", "AMIANTE-SS4", today()),
        ("en_cours", "ALM", today() + relativedelta(months=3)),
        ("renouvelee", "PRAP-IBC", today() + relativedelta(months=2)),
    ):
        level = 2 if scheme == "AMIANTE-SS4" else 1
        cases[name] = another(db, w.org, scheme, level, end=end)
    db.add(
        AccreditationRequest(
            organization_id=w.org.id,
            fund_id=w.org.fund_id,
            scheme_level_id=cases["en_cours"].scheme_level_id,
            kind=RequestKind.RENEWAL,
            phase=RequestPhase.PHASE_1,
            renewal_of_id=cases["en_cours"].id,
            created_by_id=w.people["martin"].id,
        )
    )
    another(
        db,
        w.org,
        "PRAP-IBC",
        1,
        start=cases["renouvelee"].end_date + timedelta(days=1),
        end=cases["renouvelee"].end_date + relativedelta(years=5),
    )
    db.commit()
    accreditations = [*cases.values(), w.expired, w.sst1]
    with app.app_context():
        expected = {a.id for a in accreditations if flow.renewal_problem(db, a) is None}
        assert admin.renewable_ids(db, accreditations) == expected
    assert expected == {cases["ouverte"].id, cases["dernier_jour"].id}


def test_requests_in_progress_are_listed_with_their_phase(db, w, as_):
    def add(phase, scheme=None, kind=RequestKind.ADDITIONAL, decided_days=None, org=w.org):
        request = AccreditationRequest(
            organization_id=org.id,
            fund_id=org.fund_id,
            scheme_level_id=factories.scheme_level(db, *scheme).id if scheme else None,
            kind=kind,
            phase=phase,
            created_by_id=w.people["martin"].id,
            decided_at=utcnow() - timedelta(days=decided_days) if decided_days else None,
        )
        db.add(request)
        db.flush()
        return request

    phase_1 = add(RequestPhase.PHASE_1, ("SST", 2))
    draft = add(RequestPhase.DRAFT)
    returned = add(RequestPhase.RETURNED, ("PRAP-IBC", 2), kind=RequestKind.INITIAL)
    decided = add(RequestPhase.FAVOURABLE, ("ECHAF", 1), decided_days=3)
    long_ago = add(RequestPhase.UNFAVOURABLE, ("ECHAF", 2), decided_days=45)
    abandoned = add(RequestPhase.ABANDONED, ("ALM", 2))
    foreign = add(RequestPhase.PHASE_2, ("SST", 2), org=w.other_org)
    db.commit()
    html = _text(as_("martin").get("/habilitations/"))
    section = html.split('<h2 id="demandes-titre">')[1]
    for request, kind, scheme, phase in (
        (phase_1, "Demande complémentaire", "SST / 2", "Instruction en cours phase 1"),
        (draft, "Demande complémentaire", "À choisir", "Brouillon"),
        (returned, "Demande initiale", "PRAP-IBC / 2", "À compléter par l'entité"),
        (decided, "Demande complémentaire", "ECHAF / 1", "Décision favorable"),
    ):
        row = _table_row(section, f"n° {request.id}<")
        assert f'href="/habilitations/demandes/{request.id}/informations"' in row
        assert kind in row and scheme in row and phase in row
    for request in (long_ago, abandoned, foreign):
        assert f"/habilitations/demandes/{request.id}/" not in html


def test_delegataire_sees_the_delegated_accreditations_and_no_request_button(w, as_):
    html = _text(as_("petit").get("/habilitations/"))
    assert page_link(w.sst1) in html
    for acc in (w.catec1, w.expired, w.suspended, w.foreign):
        assert acc.number not in html
    assert "Demande d'habilitation" not in html and "Demandes en cours" not in html


def test_an_instructor_sees_the_caisse_s_entities_and_searches_them(w, db, as_):
    client = as_("klein")
    html = _text(client.get("/habilitations/"))
    for acc in (w.sst1, w.catec1, w.expired, w.suspended):
        assert page_link(acc) in html
    assert w.foreign.number not in html
    assert "MAROSE FORMATION" in _table_row(html, w.sst1.number)
    assert "Demande d'habilitation" not in html and "Renouveler" not in html
    assert 'role="search"' in html
    # accents, case and word order do not matter; another caisse's entity is never found
    found = _text(client.get("/habilitations/?recherche=formation+marosé"))
    assert page_link(w.sst1) in found
    assert "Aucune habilitation ne correspond à « FORMATION GUY »." in _text(
        client.get("/habilitations/?recherche=FORMATION+GUY")
    )
    by_number = _text(client.get(f"/habilitations/?recherche={w.catec1.number[:20].lower()}"))
    assert page_link(w.catec1) in by_number and w.sst1.number not in by_number
    by_code = _text(client.get(f"/habilitations/?recherche={w.org.code}"))
    assert page_link(w.sst1) in by_code
    assert 'value="formation marosé"' in found  # the search stays in its field


def test_the_administrator_sees_every_caisse_and_filters(w, as_):
    client = as_("inrs")
    html = _text(client.get("/habilitations/"))
    for acc in (w.sst1, w.foreign):
        assert page_link(acc) in html
    assert "Cramif" in _table_row(html, w.foreign.number)
    found = _text(client.get("/habilitations/?recherche=guy"))
    assert page_link(w.foreign) in found and w.sst1.number not in found


def test_a_trainer_has_no_accreditation_list(w, as_):
    assert as_("formateur").get("/habilitations/").status_code == 403


def _count_statements(app, run) -> int:
    engine = app.extensions["forprev_engine"]
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_lists_cost_the_same_whatever_their_length(app, db, w, as_):
    """No query per row: ten more accreditations in their renewal window and ten more
    requests cost no statement more, for the gestionnaire and for the administrator."""
    # one accreditation in its renewal window, one request: every query of the page runs
    another(db, w.org, "ECHAF", 1, end=today() + relativedelta(months=6))
    db.add(
        AccreditationRequest(
            organization_id=w.org.id,
            fund_id=w.org.fund_id,
            phase=RequestPhase.DRAFT,
            created_by_id=w.people["martin"].id,
        )
    )
    db.commit()
    client = as_("martin")
    admin_client = as_("inrs")
    client.get("/habilitations/")
    admin_client.get("/habilitations/")
    before = _count_statements(app, lambda: client.get("/habilitations/"))
    before_admin = _count_statements(app, lambda: admin_client.get("/habilitations/"))
    for n in range(10):
        other = factories.organization(db)
        acc = another(db, other if n % 2 else w.org, end=today() + relativedelta(months=6))
        factories.suspension(db, acc, today() - timedelta(days=1), today())
        db.add(
            AccreditationRequest(
                organization_id=w.org.id,
                fund_id=w.org.fund_id,
                scheme_level_id=factories.scheme_level(db, "SST", 2).id,
                phase=RequestPhase.PHASE_2,
                created_by_id=w.people["martin"].id,
            )
        )
    db.commit()
    html = _text(client.get("/habilitations/"))
    assert html.count("Suspendue</span>") == 6  # 5 more, and the world's one
    assert html.count("Renouveler<span") == 6
    assert _count_statements(app, lambda: client.get("/habilitations/")) == before
    assert _count_statements(app, lambda: admin_client.get("/habilitations/")) == before_admin


def test_the_list_is_paginated(app, db, w, as_):
    app.config["PAGE_SIZE"] = 3
    client = as_("martin")
    first = _text(client.get("/habilitations/"))
    second = _text(client.get("/habilitations/?page=2"))
    shown = [a.number for a in (w.sst1, w.catec1, w.expired, w.suspended)]
    assert sum(n in first for n in shown) == 3 and sum(n in second for n in shown) == 1
    assert "Page 1 sur 2 (4 au total)" in first


# --- the page -----------------------------------------------------------------------------


def _tabs(html: str) -> list[str]:
    return re.findall(r'<a role="tab"[^>]*>([^<]+)</a>', html)


def test_the_page_s_tabs_for_the_entity(w, as_):
    client = as_("martin")
    response = client.get(f"/habilitations/{w.catec1.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/habilitations/{w.catec1.id}/informations"
    info = _text(client.get(f"/habilitations/{w.catec1.id}/informations"))
    assert _tabs(info) == [
        "Informations",
        "Général",
        "Administratif",
        "Pédagogie",
        "Technique",
        "Délégués",
    ]
    assert f"<h1>Habilitation {w.catec1.number} " in info
    assert "<dt>Entité</dt><dd>MAROSE FORMATION</dd>" in info
    assert "CATEC / 1 — Travail en espaces confinés" in info
    assert "<td>MARTIN</td><td>Romain</td><td>martin@exemple.fr</td>" in info
    assert "<td>WEBER</td><td>Karine</td><td>weber@exemple.fr</td>" in info
    assert "<dt>Caisse instructrice</dt><dd>Carsat Alsace-Moselle</dd>" in info
    general = _text(client.get(f"/habilitations/{w.catec1.id}/general"))
    assert f"<dt>Date de début</dt><dd>{w.catec1.start_date:%d/%m/%Y}</dd>" in general
    assert f"<dt>Date de fin</dt><dd>{w.catec1.end_date:%d/%m/%Y}</dd>" in general
    assert "Pas de période de suspension définie sur cette habilitation." in general
    assert "Télécharger la lettre de décision" in general
    assert "Ajouter une période de suspension" not in general
    administratif = _text(client.get(f"/habilitations/{w.catec1.id}/administratif"))
    assert "<dt>SIRET</dt><dd>35600000000048</dd>" in administratif
    assert "<dt>Fonction</dt><dd>Directrice</dd>" in administratif
    assert 'href="/entite/"' in administratif
    pedagogie = _text(client.get(f"/habilitations/{w.catec1.id}/pedagogie"))
    for kind, name in (("engagement", "lettre-signee.pdf"), ("programme", "programme-catec.pdf")):
        link = f"/habilitations/{w.catec1.id}/documents/{w.documents[kind].id}"
        assert f'<a href="{link}" download>{name}</a>' in pedagogie
    assert "Lettre d'engagement signée" in pedagogie and "Programmes de formation" in pedagogie
    assert "entretien-materiel.pdf" not in pedagogie  # a technical document
    technique = _text(client.get(f"/habilitations/{w.catec1.id}/technique"))
    assert "<td>Plateforme Nord</td>" in technique
    nord_approved = today() - timedelta(days=365)
    assert f'<td class="nowrap">{nord_approved:%d/%m/%Y}</td>' in technique
    assert "<td>Détecteur 4 gaz</td><td>6</td>" in technique
    assert "entretien-materiel.pdf" in technique
    assert "Plateforme pédagogique mobile</dt><dd>Non" in technique
    assert "Nouvelle plateforme fixe" in technique  # the entity adds one during it
    assert "Approuver" not in technique


def test_technique_exists_only_for_dispositifs_with_technical_requirements(w, as_):
    client = as_("martin")
    tabs = _tabs(_text(client.get(f"/habilitations/{w.sst1.id}/informations")))
    assert "Technique" not in tabs and tabs[-1] == "Délégués"
    response = client.get(f"/habilitations/{w.sst1.id}/technique")
    assert response.status_code == 404
    assert client.get(f"/habilitations/{w.sst1.id}/inconnu").status_code == 404


def test_an_accreditation_older_than_forprev_has_no_documents(w, as_):
    html = _text(as_("martin").get(f"/habilitations/{w.sst1.id}/pedagogie"))
    assert "Cette habilitation a été accordée avant Forprev" in html


def test_delegues_lists_the_active_delegataires(db, w, as_):
    gone = factories.person(db, first_name="Ancien", last_name="PARTI", email="parti@exemple.fr")
    factories.grant(db, gone, Role.DELEGATAIRE, organization=w.org)
    db.add(Delegation(person_id=gone.id, accreditation_id=w.sst1.id, revoked_at=utcnow()))
    db.commit()
    html = _text(as_("martin").get(f"/habilitations/{w.sst1.id}/delegues"))
    assert "<td>PETIT</td><td>Stéphane</td>" in html
    assert "PARTI" not in html
    assert 'href="/entite/utilisateurs/"' in html or ">Utilisateurs</a>" in html
    catec = _text(as_("martin").get(f"/habilitations/{w.catec1.id}/delegues"))
    assert "Cette habilitation n'est déléguée à personne." in catec


def test_a_tab_is_an_htmx_fragment_with_its_own_address(w, as_):
    response = as_("martin").get(
        f"/habilitations/{w.catec1.id}/general", headers={"HX-Request": "true"}
    )
    html = _text(response)
    assert "<html" not in html and html.startswith('<div id="habilitation-onglets"')
    assert response.headers["HX-Push-Url"] == f"/habilitations/{w.catec1.id}/general"
    assert "HX-Request" in response.headers["Vary"]
    assert 'aria-selected="true"' in html.split('id="onglet-general"')[1].split(">")[0]


@pytest.mark.parametrize(
    "who, reachable",
    [
        ("martin", {"sst1", "catec1", "expired", "suspended"}),
        ("petit", {"sst1"}),
        ("klein", {"sst1", "catec1", "expired", "suspended"}),
        ("roux", {"foreign"}),
        ("inrs", {"sst1", "catec1", "expired", "suspended", "foreign"}),
        ("guy", {"foreign"}),
    ],
)
def test_who_opens_which_page(w, as_, who, reachable):
    client = as_(who)
    for name in ("sst1", "catec1", "expired", "suspended", "foreign"):
        acc = getattr(w, name)
        response = client.get(f"/habilitations/{acc.id}/informations")
        if name in reachable:
            assert response.status_code == 200, name
            assert acc.number in _text(response)
        else:
            assert response.status_code == 404, name
            assert acc.number not in _text(response)


def test_an_instructor_of_another_caisse_gets_404_everywhere(db, w, as_):
    nord = db.exec(select(Platform).where(Platform.name == "Plateforme Nord")).one()
    client = as_("roux")
    token = csrf_token(client, "/")
    base = f"/habilitations/{w.catec1.id}"
    for path in (
        base,
        f"{base}/general",
        f"{base}/technique",
        f"{base}/lettre-decision",
        f"{base}/documents/{w.documents['engagement'].id}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert w.catec1.number not in _text(response)
    data = {
        "csrf_token": token,
        "version": str(w.catec1.version),
        "start_date": f"{today():%d/%m/%Y}",
        "end_date": f"{today():%d/%m/%Y}",
        "reason": "Contrôle",
        f"plateforme-{nord.id}-approved_on": f"{today():%d/%m/%Y}",
    }
    assert client.post(f"{base}/suspensions", data=data).status_code == 404
    assert client.post(f"{base}/plateformes/{nord.id}/approuver", data=data).status_code == 404
    assert count(db, Suspension, Suspension.accreditation_id == w.catec1.id) == 0


def test_the_page_s_forms_follow_the_role(w, as_):
    """The caisse and the administrator get the suspension and approval forms; the
    délégataire and the entity do not."""
    for who in ("klein", "inrs"):
        general = _text(as_(who).get(f"/habilitations/{w.catec1.id}/general"))
        assert "Ajouter une période de suspension" in general
        technique = _text(as_(who).get(f"/habilitations/{w.catec1.id}/technique"))
        assert "Nouvelle plateforme fixe" not in technique
    delegated = _text(as_("petit").get(f"/habilitations/{w.sst1.id}/general"))
    assert "Ajouter une période de suspension" not in delegated
    assert "Renouveler" not in delegated


# --- the decision letter and the request's documents -----------------------------------------


def test_the_decision_letter_downloads_only_while_the_accreditation_has_not_ended(db, w, as_):
    client = as_("martin")
    response = client.get(f"/habilitations/{w.catec1.id}/lettre-decision")
    assert response.status_code == 200
    assert response.data == w.letter_bytes
    assert response.headers["Content-Type"] == "application/pdf"
    assert 'filename="decision.pdf"' in response.headers["Content-Disposition"]
    # a délégataire of another accreditation never reaches it
    assert as_("petit").get(f"/habilitations/{w.catec1.id}/lettre-decision").status_code == 404
    client = as_("martin")
    w.catec1.end_date = today()  # its last day: still downloadable
    db.add(w.catec1)
    db.commit()
    assert client.get(f"/habilitations/{w.catec1.id}/lettre-decision").data == w.letter_bytes
    w.catec1.end_date = today() - timedelta(days=1)
    db.add(w.catec1)
    db.commit()
    assert client.get(f"/habilitations/{w.catec1.id}/lettre-decision").status_code == 404
    general = _text(client.get(f"/habilitations/{w.catec1.id}/general"))
    assert "Télécharger la lettre de décision" not in general
    assert "sa lettre de décision n'est plus téléchargeable" in general
    # none recorded (an accreditation from before Forprev)
    assert client.get(f"/habilitations/{w.sst1.id}/lettre-decision").status_code == 404
    assert "Aucune lettre de décision" in _text(client.get(f"/habilitations/{w.sst1.id}/general"))


def test_the_request_s_documents_download_from_the_accreditation(db, w, as_):
    client = as_("klein")
    document = w.documents["programme"]
    response = client.get(f"/habilitations/{w.catec1.id}/documents/{document.id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert 'filename="programme-catec.pdf"' in response.headers["Content-Disposition"]
    # a document of the accreditation's request only, never another's by its number
    other = AccreditationRequest(
        organization_id=w.org.id,
        fund_id=w.org.fund_id,
        created_by_id=w.people["martin"].id,
    )
    db.add(other)
    db.flush()
    stranger = RequestDocument(
        request_id=other.id,
        kind="programme",
        file_id=document.file_id,
        uploaded_by_id=w.people["martin"].id,
    )
    db.add(stranger)
    db.commit()
    assert client.get(f"/habilitations/{w.catec1.id}/documents/{stranger.id}").status_code == 404
    assert client.get(f"/habilitations/{w.sst1.id}/documents/{document.id}").status_code == 404


# --- suspensions --------------------------------------------------------------------------


def count(db, model, *where) -> int:
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


@pytest.mark.parametrize(
    "start, end, reason, field, message",
    [
        (None, 5, "Contrôle", "start_date", "Indiquez la date de début de la suspension."),
        (1, None, "Contrôle", "end_date", "Indiquez la date de fin de la suspension."),
        (5, 4, "Contrôle", "end_date", "La date de fin ne peut pas précéder la date de début."),
        (1, 5, "", "reason", "Indiquez le motif de la suspension."),
        (1, 5, "   ", "reason", "Indiquez le motif de la suspension."),
        (1, 5, "x" * 501, "reason", "Le motif ne doit pas dépasser 500 caractères."),
        (
            "avant",
            5,
            "Contrôle",
            "start_date",
            "La suspension ne peut pas commencer avant le début de l'habilitation, le {start}.",
        ),
        (
            1,
            "apres",
            "Contrôle",
            "end_date",
            "La suspension ne peut pas finir après la fin de l'habilitation, le {end}.",
        ),
        (
            30,
            45,
            "Contrôle",
            "start_date",
            "Cette période chevauche la suspension du {s_start} au {s_end} : choisissez des "
            "dates en dehors.",
        ),
        (
            45,
            50,
            "Contrôle",
            "start_date",
            "Cette période chevauche la suspension du {s_start} au {s_end} : choisissez des "
            "dates en dehors.",
        ),
    ],
)
def test_a_refused_suspension_says_why_next_to_its_field_and_writes_nothing(
    app, db, w, start, end, reason, field, message
):
    acc = w.sst1
    existing = factories.suspension(
        db, acc, today() + timedelta(days=40), today() + timedelta(days=45)
    )
    db.commit()

    def day(value):
        if value == "avant":
            return acc.start_date - timedelta(days=1)
        if value == "apres":
            return acc.end_date + timedelta(days=1)
        return None if value is None else today() + timedelta(days=value)

    version = acc.version
    with app.app_context():
        errors = admin.add_suspension(
            db, w.role(db, "klein"), acc, day(start), day(end), reason, version
        )
    assert errors[field] == message.format(
        start=f"{acc.start_date:%d/%m/%Y}",
        end=f"{acc.end_date:%d/%m/%Y}",
        s_start=f"{existing.start_date:%d/%m/%Y}",
        s_end=f"{existing.end_date:%d/%m/%Y}",
    )
    db.rollback()
    assert count(db, Suspension, Suspension.accreditation_id == acc.id) == 1
    assert db.get(Accreditation, acc.id).version == version


def test_a_suspension_may_touch_another_and_fill_the_whole_period(app, db, w):
    acc = w.sst1
    factories.suspension(db, acc, today() + timedelta(days=40), today() + timedelta(days=45))
    db.commit()
    role = w.role(db, "inrs")
    with app.app_context():
        assert (
            admin.add_suspension(
                db, role, acc, today() + timedelta(days=46), today() + timedelta(days=50), "Suite"
            )
            == {}
        )
        assert (
            admin.add_suspension(db, role, acc, acc.start_date, acc.start_date, "Premier jour")
            == {}
        )
        assert admin.add_suspension(db, role, acc, acc.end_date, acc.end_date, "Dernier") == {}
    db.commit()
    assert count(db, Suspension, Suspension.accreditation_id == acc.id) == 4


def test_only_the_caisse_of_the_entity_or_an_administrator_suspends(app, db, w):
    with app.app_context():
        for who in ("martin", "petit", "roux"):
            with pytest.raises(DomainError):
                admin.add_suspension(
                    db, w.role(db, who), w.sst1, today(), today(), "Contrôle", w.sst1.version
                )
    assert count(db, Suspension, Suspension.accreditation_id == w.sst1.id) == 0


def _suspend(client, acc, start, end, reason="Contrôle sur place", version=None, htmx=False):
    token = csrf_token(client, f"/habilitations/{acc.id}/general")
    return client.post(
        f"/habilitations/{acc.id}/suspensions",
        data={
            "csrf_token": token,
            "version": str(acc.version if version is None else version),
            "start_date": start if isinstance(start, str) else f"{start:%d/%m/%Y}",
            "end_date": end if isinstance(end, str) else f"{end:%d/%m/%Y}",
            "reason": reason,
        },
        headers={"HX-Request": "true"} if htmx else {},
    )


def test_the_caisse_records_a_suspension_and_every_gestionnaire_is_told(db, w, as_):
    start, end = today() + timedelta(days=20), today() + timedelta(days=30)
    client = as_("klein")
    version = w.sst1.version
    response = _suspend(client, w.sst1, start, end)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/habilitations/{w.sst1.id}/general"
    general = _text(client.get(f"/habilitations/{w.sst1.id}/general"))
    assert "La période de suspension est enregistrée." in general
    assert (
        f'<td class="nowrap">{start:%d/%m/%Y}</td><td class="nowrap">{end:%d/%m/%Y}</td>'
        "<td>Contrôle sur place</td>"
    ) in general
    assert "Pas de période de suspension" not in general
    db.expire_all()
    assert db.get(Accreditation, w.sst1.id).version == version + 1
    title = f"Habilitation {w.sst1.number} suspendue du {start:%d/%m/%Y} au {end:%d/%m/%Y}"
    told = db.exec(
        select(Notification.person_id, Notification.link).where(Notification.title == title)
    ).all()
    assert sorted(told) == sorted(
        (w.people[name].id, f"/habilitations/{w.sst1.id}/general") for name in ("martin", "weber")
    )
    event = db.exec(
        select(AuditEvent).where(
            AuditEvent.object_type == "accreditation",
            AuditEvent.object_id == w.sst1.id,
            AuditEvent.action == "accreditation.suspended",
        )
    ).one()
    assert event.actor_id == w.people["klein"].id and event.comment == "Contrôle sur place"
    # the gestionnaire sees it on the page, and the task on the dashboard
    entity = _text(as_("martin").get(f"/habilitations/{w.sst1.id}/general"))
    assert "<td>Contrôle sur place</td>" in entity
    assert title in _text(as_("martin").get("/"))


def test_a_refused_suspension_keeps_what_was_typed(db, w, as_):
    client = as_("inrs")
    response = _suspend(client, w.sst1, "32/13/2026", today(), reason="", htmx=True)
    assert response.status_code == 422
    html = _text(response)
    assert html.startswith('<div id="habilitation-onglets"')
    assert (
        '<p class="error" id="start_date-erreur" role="alert">Saisissez une date valide, par '
        "exemple 14/07/1990.</p>"
    ) in html
    assert (
        '<p class="error" id="reason-erreur" role="alert">Indiquez le motif de la suspension.</p>'
    ) in html
    assert 'value="32/13/2026"' in html and f'value="{today():%d/%m/%Y}"' in html
    assert 'aria-describedby="start_date-aide start_date-erreur"' in html
    assert "HX-Push-Url" not in response.headers
    assert count(db, Suspension, Suspension.accreditation_id == w.sst1.id) == 0


def test_a_suspension_on_a_stale_page_is_a_conflict_and_writes_nothing(db, w, as_):
    client = as_("klein")
    stale = w.sst1.version
    assert _suspend(client, w.sst1, today() + timedelta(days=3), today() + timedelta(days=4))
    response = _suspend(
        client,
        w.sst1,
        today() + timedelta(days=10),
        today() + timedelta(days=12),
        version=stale,
        htmx=True,
    )
    assert response.status_code == 409
    assert "Quelqu'un a modifié cette habilitation" in _text(response)
    assert count(db, Suspension, Suspension.accreditation_id == w.sst1.id) == 1


def test_the_entity_cannot_suspend(w, as_):
    response = _suspend(as_("martin"), w.sst1, today(), today())
    assert response.status_code == 403


def test_a_session_ending_in_a_suspension_is_refused_on_its_first_and_last_day(app, db, w):
    """The suspension's first and last days refuse a session's end date, naming the
    period; the day before and the day after are accepted."""
    start, end = today() + timedelta(days=10), today() + timedelta(days=20)
    with app.app_context():
        assert admin.add_suspension(db, w.role(db, "klein"), w.sst1, start, end, "Audit") == {}
    db.commit()
    role = w.role(db, "martin")
    message = (
        f"L'habilitation est suspendue du {start:%d/%m/%Y} au {end:%d/%m/%Y} : aucun "
        "certificat ne peut être délivré pour une session qui se termine pendant la suspension."
    )

    def end_date_error(day):
        with app.app_context():
            values = SessionFields(accreditation_id=w.sst1.id, end_date=day)
            return check_session_fields(db, role, values).get("end_date")

    assert end_date_error(start) == message
    assert end_date_error(end) == message
    assert end_date_error(start + timedelta(days=5)) == message
    assert end_date_error(start - timedelta(days=1)) is None
    assert end_date_error(end + timedelta(days=1)) is None


# --- platforms added during the accreditation -------------------------------------------------


def _add_platform(client, acc, version=None, htmx=False, **fields):
    token = csrf_token(client, f"/habilitations/{acc.id}/technique")
    data = {
        "csrf_token": token,
        "version": str(acc.version if version is None else version),
        "name": "Plateforme Sud",
        "address": "8 route de Colmar",
        "postal_code": "67400",
        "city": "ILLKIRCH",
        **fields,
    }
    return client.post(
        f"/habilitations/{acc.id}/plateformes",
        data=data,
        headers={"HX-Request": "true"} if htmx else {},
    )


def _approve(client, acc, platform_id, approved_on, version=None, htmx=False):
    token = csrf_token(client, f"/habilitations/{acc.id}/technique")
    return client.post(
        f"/habilitations/{acc.id}/plateformes/{platform_id}/approuver",
        data={
            "csrf_token": token,
            "version": str(acc.version if version is None else version),
            f"plateforme-{platform_id}-approved_on": approved_on,
        },
        headers={"HX-Request": "true"} if htmx else {},
    )


def _lieu_options(client, cert_session) -> list[str]:
    html = _text(client.get(f"/sessions/{cert_session.id}/session"))
    select_ = re.search(r'<select[^>]*id="platform_id".*?</select>', html, re.S).group(0)
    return re.findall(r"<option [^>]*>([^<]+)</option>", select_)[1:]


def test_a_platform_added_during_the_accreditation_is_a_lieu_once_approved(db, w, as_):
    draft = CertSession(
        organization_id=w.org.id,
        accreditation_id=w.catec1.id,
        scheme_level_id=w.catec1.scheme_level_id,
        created_by_id=w.people["martin"].id,
        state=SessionState.DRAFT,
    )
    db.add(draft)
    db.commit()
    entity = as_("martin")
    assert _lieu_options(entity, draft) == ["Plateforme Nord — 67100 STRASBOURG"]

    response = _add_platform(entity, w.catec1)
    assert response.status_code == 302
    technique = _text(entity.get(f"/habilitations/{w.catec1.id}/technique"))
    assert "La plateforme « Plateforme Sud » est ajoutée" in technique
    assert (
        "<td>Plateforme Sud</td>\n      <td>8 route de Colmar</td>\n      <td>67400 ILLKIRCH</td>"
    ) in technique
    assert "en attente d'approbation" in technique
    sud = db.exec(select(Platform).where(Platform.name == "Plateforme Sud")).one()
    assert sud.accreditation_id == w.catec1.id and sud.cnh_approved_on is None
    # waiting for the caisse: not a lieu yet
    assert _lieu_options(entity, draft) == ["Plateforme Nord — 67100 STRASBOURG"]
    # the caisse is told, not the other caisse
    told = db.exec(select(Notification.person_id).where(Notification.object_id == sud.id)).all()
    assert told == [w.people["klein"].id]

    caisse = as_("klein")
    technique = _text(caisse.get(f"/habilitations/{w.catec1.id}/technique"))
    assert "Approuver « Plateforme Sud »" in technique
    assert "Approuver « Plateforme Nord »" not in technique
    db.expire_all()
    acc = db.get(Accreditation, w.catec1.id)
    response = _approve(caisse, acc, sud.id, f"{today():%d/%m/%Y}", htmx=True)
    assert response.status_code == 200
    html = _text(response)
    assert "La date d'approbation de la plateforme est enregistrée." in html
    assert f'<td class="nowrap">{today():%d/%m/%Y}</td>' in html
    assert "Approuver « Plateforme Sud »" not in html
    db.expire_all()
    assert db.get(Platform, sud.id).cnh_approved_on == today()
    # the task of the caisse is done; the gestionnaires are told
    assert (
        count(
            db, Notification, Notification.object_type == "platform", Notification.done_at.is_(None)
        )
        == 0
    )
    assert count(db, Notification, Notification.title.contains("Plateforme Sud » approuvée")) == 2

    assert _lieu_options(as_("martin"), draft) == [
        "Plateforme Nord — 67100 STRASBOURG",
        "Plateforme Sud — 67400 ILLKIRCH",
    ]


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"name": ""}, "name", "Indiquez le nom de la plateforme."),
        ({"address": " "}, "address", "Indiquez l'adresse."),
        ({"postal_code": "6740"}, "postal_code", "Le code postal a 5 chiffres, par exemple 67000."),
        # no caisse covers it: no session could be held there
        (
            {"postal_code": "96000"},
            "postal_code",
            "Le code postal 96000 ne correspond à aucun département couvert par une caisse.",
        ),
        ({"city": ""}, "city", "Indiquez la ville."),
        ({"name": "x" * 201}, "name", "Pas plus de 200 caractères."),
        ({"city": "Illkirch\nGraffenstaden"}, "city", None),  # one line only
    ],
)
def test_a_refused_platform_is_named_next_to_its_field_and_nothing_is_added(
    db, w, as_, fields, field, message
):
    response = _add_platform(as_("martin"), w.catec1, htmx=True, **fields)
    assert response.status_code == 422
    html = _text(response)
    shown = re.search(rf'<p class="error" id="{field}-erreur" role="alert">([^<]+)</p>', html)
    assert shown, html
    if message:
        assert shown.group(1) == message
    assert 'value="8 route de Colmar"' in html or field == "address"
    assert count(db, Platform, Platform.accreditation_id == w.catec1.id) == 1


def test_platforms_are_added_by_the_entity_to_a_running_technical_accreditation(app, db, w, as_):
    values = PlatformInput("Plateforme Est", "1 rue", "67000", "STRASBOURG")
    with app.app_context():
        with pytest.raises(DomainError, match="ne demande pas de plateforme"):
            admin.add_platform(db, w.role(db, "martin"), w.sst1, values)
        with pytest.raises(DomainError, match="Seuls les gestionnaires"):
            admin.add_platform(db, w.role(db, "klein"), w.catec1, values)
        with pytest.raises(DomainError, match="Seuls les gestionnaires"):
            admin.add_platform(db, w.role(db, "guy"), w.catec1, values)
        w.catec1.end_date = today() - timedelta(days=1)
        with pytest.raises(DomainError, match="a pris fin le"):
            admin.add_platform(db, w.role(db, "martin"), w.catec1, values)
    db.rollback()
    assert count(db, Platform, Platform.name == "Plateforme Est") == 0
    assert as_("klein").get("/").status_code == 200
    assert _add_platform(as_("klein"), w.catec1).status_code == 403


def test_a_platform_added_on_a_stale_page_is_a_conflict(db, w, as_):
    client = as_("martin")
    stale = w.catec1.version
    assert _add_platform(client, w.catec1).status_code == 302
    response = _add_platform(client, w.catec1, version=stale, name="Plateforme Ouest", htmx=True)
    assert response.status_code == 409
    assert "Quelqu'un a modifié cette habilitation" in _text(response)
    assert count(db, Platform, Platform.name == "Plateforme Ouest") == 0


@pytest.mark.parametrize(
    "approved_on, message",
    [
        ("", "Indiquez la date d'approbation de la CNH."),
        ("demain", "La date d'approbation ne peut pas être dans le futur."),
        ("31/02/2026", "Saisissez une date valide, par exemple 14/07/1990."),
    ],
)
def test_a_refused_approval_says_why_and_writes_nothing(db, w, as_, approved_on, message):
    assert _add_platform(as_("martin"), w.catec1).status_code == 302
    sud = db.exec(select(Platform).where(Platform.name == "Plateforme Sud")).one()
    db.expire_all()
    acc = db.get(Accreditation, w.catec1.id)
    if approved_on == "demain":
        approved_on = f"{today() + timedelta(days=1):%d/%m/%Y}"
    response = _approve(as_("inrs"), acc, sud.id, approved_on, htmx=True)
    assert response.status_code == 422
    html = _text(response)
    error_id = f"plateforme-{sud.id}-approved_on-erreur"
    assert f'<p class="error" id="{error_id}" role="alert">{message}</p>' in html
    db.expire_all()
    assert db.get(Platform, sud.id).cnh_approved_on is None
    assert db.get(Accreditation, acc.id).version == acc.version


def test_an_approved_platform_is_not_approved_again(app, db, w, as_):
    nord = db.exec(select(Platform).where(Platform.name == "Plateforme Nord")).one()
    response = _approve(as_("klein"), w.catec1, nord.id, f"{today():%d/%m/%Y}", htmx=True)
    assert response.status_code == 422
    assert "est déjà approuvée" in _text(response)
    with app.app_context():
        with pytest.raises(DomainError, match="n'existe pas sur cette habilitation"):
            admin.approve_platform(db, w.role(db, "inrs"), w.sst1, nord.id, today())
        with pytest.raises(DomainError):
            admin.approve_platform(db, w.role(db, "martin"), w.catec1, nord.id, today())


def test_only_approved_platforms_are_a_session_s_lieu(app, db, w):
    for name, approved in (
        ("Hier", today() - timedelta(days=1)),
        ("Demain", today() + timedelta(days=1)),
        ("En attente", None),
    ):
        db.add(
            Platform(
                accreditation_id=w.catec1.id,
                name=name,
                address="a",
                postal_code="67000",
                city="STRASBOURG",
                cnh_approved_on=approved,
            )
        )
    db.commit()
    with app.app_context():
        names = [p.name for p in platforms_of(db, w.catec1.id)]
        assert names == ["Hier", "Plateforme Nord"]
        assert [p.name for p in platforms_of(db, w.catec1.id, today() + timedelta(days=1))] == [
            "Demain",
            "Hier",
            "Plateforme Nord",
        ]


def test_with_the_mobile_platform_the_lieu_stays_free(db, w, as_):
    w.catec1.mobile_platform = True
    db.add(w.catec1)
    draft = CertSession(
        organization_id=w.org.id,
        accreditation_id=w.catec1.id,
        scheme_level_id=w.catec1.scheme_level_id,
        created_by_id=w.people["martin"].id,
        state=SessionState.DRAFT,
    )
    db.add(draft)
    db.commit()
    html = _text(as_("martin").get(f"/sessions/{draft.id}/session"))
    assert 'id="platform_id"' not in html and 'id="location"' in html
    technique = _text(as_("martin").get(f"/habilitations/{w.catec1.id}/technique"))
    assert "Plateforme pédagogique mobile</dt><dd>Oui" in technique


# --- the scope's other readers --------------------------------------------------------------


def test_the_wider_scope_changes_nothing_for_declaring_sessions(app, db, w):
    """Instructors and administrators now see accreditations, but still declare none."""
    with app.app_context():
        for who in ("klein", "inrs"):
            assert declarable_accreditations(db, w.role(db, who)) == []
        seen = set(
            db.exec(select(Accreditation.id).where(accreditation_scope(w.role(db, "klein"))))
        )
    assert seen == {w.sst1.id, w.catec1.id, w.expired.id, w.suspended.id}


def test_the_dashboards_still_read_their_own_scope(w, as_):
    assert w.sst1.number in _text(as_("martin").get("/"))
    assert w.foreign.number not in _text(as_("martin").get("/"))
    assert as_("klein").get("/").status_code == 200
    assert as_("inrs").get("/").status_code == 200


def test_a_stale_version_is_a_conflict_in_the_domain_too(app, db, w):
    with app.app_context(), pytest.raises(ConflictError):
        admin.add_suspension(
            db, w.role(db, "inrs"), w.sst1, today(), today(), "x", w.sst1.version + 1
        )
    assert count(db, Suspension, Suspension.accreditation_id == w.sst1.id) == 0


def test_platform_routes_of_an_accreditation_without_platforms_are_not_found(db, w, as_):
    """SST has no Technique tab: adding or approving a platform there is 404 (a forged or
    replayed form), not a page drawn for a tab that does not exist."""
    response = _add_platform(as_("martin"), w.sst1, htmx=True)
    assert response.status_code == 404
    assert count(db, Platform, Platform.accreditation_id == w.sst1.id) == 0
