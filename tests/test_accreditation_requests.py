"""The accreditation request's screen (app/blueprints/accreditation_requests/views.py)
through the HTTP client with a real database: its tabs per role, the draft saved on moving
to another tab, the inline checks of each field (the dispositif, a platform, a line of
equipment, the comment) by the rules of the save, uploads through the one upload path,
"Soumettre" and "Abandonner", the version's 409, who may open it, and the renewal window."""

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from pypdf import PdfReader, PdfWriter
from sqlmodel import func, select
from werkzeug.datastructures import FileStorage

from app.clock import today
from app.domain import accreditation_flow as flow
from app.domain.access import ActiveRole
from app.domain.uploads import NOT_A_PDF
from app.forms import ONE_LINE
from app.models import (
    AccreditationRequest,
    DocumentRequirement,
    Equipment,
    Platform,
    RequestDocument,
    RoleGrant,
    StoredFile,
)
from app.models.accreditations import RequestKind, RequestPhase
from app.models.organizations import OrganizationStatus
from app.models.people import Role
from seeds.reference import load_reference
from tests import factories
from tests.conftest import csrf_token

BASE = "/habilitations/demandes"


def _pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PDF = _pdf()


def text_of(response) -> str:
    """The page's text, tags removed and spaces folded (what a reader sees)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").strip()


def active(grant: RoleGrant) -> ActiveRole:
    return ActiveRole(
        grant_id=grant.id,
        person_id=grant.person_id,
        role=Role(grant.role),
        organization_id=grant.organization_id,
        fund_id=grant.fund_id,
    )


@dataclass
class World:
    org: object
    people: dict
    grants: dict

    def role(self, name) -> ActiveRole:
        return active(self.grants[name])


@pytest.fixture
def w(app, db):
    """An entity of Carsat Alsace-Moselle with two gestionnaires and a délégataire; an
    instructor of its caisse and one of the Cramif; an administrator."""
    with app.test_request_context():
        if db.exec(select(DocumentRequirement.id)).first() is None:
            # the catalogue's document rows are reference data a previous test's cleanup
            # removed (tests/conftest.py keeps only the tables it lists)
            load_reference(db)
        org = factories.organization(db, name="ATELIER SÉCURITÉ", postal_code="67000")
        org.signatory_last_name, org.signatory_first_name = "DURAND", "Claire"
        org.signatory_function = "Directrice"
        org.siret, org.regime = "73282932000074", "Régime général"
        org.activity_number = "42670000067"
        db.add(org)
        alsace, cramif = factories.fund(db), factories.fund(db, "CRAMIF")
        people, grants = {}, {}

        def make(name, role, first, last, *, organization=None, fund=None):
            person = factories.person(
                db, first_name=first, last_name=last, email=f"{name}@exemple.fr"
            )
            people[name] = person
            grants[name] = factories.grant(db, person, role, organization=organization, fund_=fund)

        make("gestionnaire", Role.GESTIONNAIRE, "Alice", "MARTIN", organization=org)
        make("gestionnaire_2", Role.GESTIONNAIRE, "Bruno", "PETIT", organization=org)
        make("delegataire", Role.DELEGATAIRE, "Denis", "ROUX", organization=org)
        make("instructeur", Role.INSTRUCTEUR, "Inès", "CAISSE", fund=alsace)
        make("instructeur_cramif", Role.INSTRUCTEUR, "Iris", "AILLEURS", fund=cramif)
        make("administrateur", Role.ADMINISTRATEUR, "Adam", "NATIONAL")
        db.commit()
    # no context kept open: the client's requests would share its `g`
    return World(org, people, grants)


def level_id(db, scheme="SST", level=1) -> int:
    return factories.scheme_level(db, scheme, level).id


def new_request(app, db, w, scheme=None, level=1) -> AccreditationRequest:
    with app.test_request_context():
        request = flow.new_request(db, w.role("gestionnaire"))
        if scheme:
            flow.save_pedagogique(
                db, w.role("gestionnaire"), request, request.version, level_id(db, scheme, level)
            )
        db.commit()
    return request


def selected_tab(response) -> str:
    (key,) = re.findall(r'id="onglet-(\w+)"[^>]*aria-selected="true"', response.text)
    return key


def version_of(db, request_id: int) -> int:
    db.expire_all()
    return db.get(AccreditationRequest, request_id).version


def post(client, url: str, data: dict | None = None, htmx: bool = False, **kwargs):
    data = {"csrf_token": csrf_token(client, "/"), **(data or {})}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, data=data, headers=headers, **kwargs)


# --- the tabs ----------------------------------------------------------------------------


def test_the_gestionnaire_sees_each_tab_with_its_content(app, db, w, login_as):
    request = new_request(app, db, w, "SST", 2)
    client = login_as(w.people["gestionnaire"])

    page = client.get(f"{BASE}/{request.id}/informations")
    assert page.status_code == 200
    text = text_of(page)
    assert f"Demande d'habilitation n° {request.id} SST / 2 ATELIER SÉCURITÉ" in text
    assert "MARTIN Alice gestionnaire@exemple.fr" in text
    assert "PETIT Bruno gestionnaire_2@exemple.fr" in text
    assert "ROUX" not in text  # a délégataire is no gestionnaire
    assert "Caisse instructrice Carsat Alsace-Moselle" in text
    assert "Mon commentaire" in text and "Soumettre" in text
    assert "Pédagogique : déposez « Lettre d'engagement signée »." in text
    html = page.get_data(as_text=True)
    assert 'role="tablist"' in html and 'aria-selected="true"' in html
    assert [t for t in re.findall(r'role="tab" id="onglet-(\w+)"', html)] == [
        "informations",
        "entite",
        "pedagogique",
        "historique",
    ]

    entite = text_of(client.get(f"{BASE}/{request.id}/entite"))
    for value in ("ATELIER SÉCURITÉ", "73282932000074", "Régime général", "42670000067"):
        assert value in entite
    assert "Claire DURAND, Directrice" in entite
    assert "Modifier les informations de l'entité" in entite

    pedagogique = client.get(f"{BASE}/{request.id}/pedagogique")
    text = text_of(pedagogique)
    assert "Télécharger la lettre d'engagement à signer" in text
    assert "Lettre d'engagement signée" in text
    # level 2 asks for the programmes and the déroulés
    assert "Programmes de formation Fichiers PDF" in text
    assert "Programmes de formation (facultatif)" not in text

    historique = text_of(client.get(f"{BASE}/{request.id}/historique"))
    assert "Création" in historique and "Alice MARTIN" in historique


def upload(name: str = "document.pdf", data: bytes = PDF) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type="application/pdf")


def complete(app, db, w, scheme="SST", level=1) -> AccreditationRequest:
    """A draft with everything "Soumettre" asks for, prepared through the rules."""
    request = new_request(app, db, w, scheme, level)
    g = w.role("gestionnaire")
    with app.test_request_context():
        for requirement in flow.requirements_of(db, request.scheme_level_id):
            if requirement.required:
                flow.add_document(
                    db, g, request, request.version, requirement.kind, upload(requirement.kind)
                )
        if flow.is_technical(db, request):
            flow.add_platform(db, g, request, request.version, PORT)
        db.commit()
        assert flow.missing(db, request) == []
    return request


def submitted(app, db, w, scheme="SST", level=1) -> AccreditationRequest:
    request = complete(app, db, w, scheme, level)
    with app.test_request_context():
        flow.submit(db, w.role("gestionnaire"), request, request.version)
        db.commit()
    return request


PORT = flow.PlatformInput("Plateforme du port", "5 rue du Port du Rhin", "67100", "STRASBOURG")


def count(db, model, *where) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def snapshot(db, request_id: int) -> tuple:
    """What any change of the request writes."""
    db.expire_all()
    row = db.get(AccreditationRequest, request_id).model_dump()
    return (
        row,
        count(db, RequestDocument, RequestDocument.request_id == request_id),
        count(db, StoredFile),
        count(db, Platform, Platform.request_id == request_id),
        count(db, Equipment, Equipment.request_id == request_id),
    )


def test_instructors_and_administrators_read_the_request_without_any_form(app, db, w, login_as):
    request = submitted(app, db, w, "CATEC", 1)
    for name in ("instructeur", "administrateur"):
        client = login_as(w.people[name])
        for tab in ("informations", "entite", "pedagogique", "technique", "historique"):
            page = client.get(f"{BASE}/{request.id}/{tab}")
            assert page.status_code == 200, (name, tab)
            html = page.get_data(as_text=True)
            assert 'id="form-brouillon"' not in html, (name, tab)
            assert 'enctype="multipart/form-data"' not in html, (name, tab)
            assert "/supprimer" not in html and "Modifier les informations" not in html
        text = text_of(client.get(f"{BASE}/{request.id}/technique"))
        assert "Plateforme du port 5 rue du Port du Rhin 67100 STRASBOURG" in text
        text = text_of(client.get(f"{BASE}/{request.id}/informations"))
        assert "Commentaire de l'entité" in text and "Soumettre" not in text
        client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/")})


def test_a_delegataire_may_not_open_a_request(app, db, w, login_as):
    request = new_request(app, db, w, "SST", 1)
    client = login_as(w.people["delegataire"])
    assert client.get(f"{BASE}/{request.id}/informations").status_code == 403
    assert post(client, f"{BASE}/nouvelle").status_code == 403
    assert count(db, AccreditationRequest) == 1


def test_an_instructor_of_another_caisse_gets_404_and_a_draft_is_not_the_caisse_s(
    app, db, w, login_as
):
    draft = new_request(app, db, w, "SST", 1)
    request = submitted(app, db, w, "PRAP-IBC", 1)
    client = login_as(w.people["instructeur_cramif"])
    for tab in ("informations", "pedagogique", "historique"):
        assert client.get(f"{BASE}/{request.id}/{tab}").status_code == 404
    documents = flow.documents_of(db, request.id)
    url = f"{BASE}/{request.id}/documents/{documents[0][0].id}"
    assert client.get(url).status_code == 404
    assert client.get(f"{BASE}/{request.id}/lettre-engagement").status_code == 404
    client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/")})
    client = login_as(w.people["instructeur"])
    assert client.get(f"{BASE}/{draft.id}/informations").status_code == 404  # not submitted
    assert client.get(f"{BASE}/{request.id}/informations").status_code == 200
    download = client.get(url)
    assert download.status_code == 200 and download.data == PDF


def test_the_technique_tab_exists_only_for_dispositifs_with_technical_requirements(
    app, db, w, login_as
):
    sst = new_request(app, db, w, "SST", 1)
    catec = new_request(app, db, w, "CATEC", 1)
    echaf = new_request(app, db, w, "ECHAF", 2)
    client = login_as(w.people["gestionnaire"])
    assert client.get(f"{BASE}/{sst.id}/technique").status_code == 404
    assert 'id="onglet-technique"' not in client.get(f"{BASE}/{sst.id}/informations").text
    assert client.get(f"{BASE}/{sst.id}/inexistant").status_code == 404
    for request in (catec, echaf):
        page = client.get(f"{BASE}/{request.id}/technique")
        assert page.status_code == 200
        text = text_of(page)
        for words in (
            "Acquisition, utilisation et entretien du matériel",
            "Tableau récapitulatif du matériel",
            "Pièces du dossier technique",
            "Documents complémentaires (facultatif)",
            "Intitulé du document",
            "Ajouter du matériel",
            "Plateforme pédagogique mobile",
            "L'activation de cette case permet de déclarer des certifications dans "
            "d'autres lieux que ceux indiqués dans la liste des plateformes fixes",
            "Plateforme Adresse Code postal Ville Date de CNH",
            "Aucune plateforme fixe",
        ):
            assert words in text, words
    # a platform or a line of equipment of a dispositif without a Technique tab: 404
    response = post(
        client, f"{BASE}/{sst.id}/plateformes", {"version": sst.version, "plateforme-name": "X"}
    )
    assert response.status_code == 404


def test_the_progress_bar_marks_the_current_step_for_screen_readers_too(app, db, w, login_as):
    draft = new_request(app, db, w, "SST", 1)
    request = submitted(app, db, w, "PRAP-2S", 1)
    client = login_as(w.people["gestionnaire"])
    html = client.get(f"{BASE}/{draft.id}/informations").text
    assert 'aria-current="step"' not in html  # a draft stands before step 1
    assert "Brouillon" in text_of(client.get(f"{BASE}/{draft.id}/informations"))
    html = client.get(f"{BASE}/{request.id}/informations").text
    steps = re.findall(r'<li class="step step-(\w+)', html)
    assert steps == ["current", "todo", "todo", "todo"]
    current = re.search(r'aria-current="step">(.*?)</li>', html, re.S).group(1)
    assert "Dossier administratif complet" in current and "étape en cours" in current
    with app.test_request_context():
        instructor = w.role("instructeur")
        flow.start_instruction(db, instructor, request, request.version)
        flow.complete_phase(db, instructor, request, request.version, RequestPhase.PHASE_1)
        db.commit()
    html = client.get(f"{BASE}/{request.id}/informations").text
    steps = re.findall(r'<li class="step step-(\w+)', html)
    assert steps == ["done", "done", "current", "todo"]
    current = re.search(r'aria-current="step">(.*?)</li>', html, re.S).group(1)
    assert "Instruction en cours phase 2" in current
    text = text_of(client.get(f"{BASE}/{request.id}/informations"))
    assert "Demande initiale · État : Instruction en cours phase 2" in text


def test_a_request_sent_back_shows_the_instructor_s_comment_and_a_decision_its_outcome(
    app, db, w, login_as
):
    request = submitted(app, db, w, "SST", 1)
    refused = submitted(app, db, w, "ALM", 1)
    instructor, admin = w.role("instructeur"), w.role("administrateur")
    with app.test_request_context():
        flow.start_instruction(db, instructor, request, request.version)
        flow.return_incomplete(
            db, instructor, request, request.version, "Le déroulé du jour 2 manque."
        )
        for phase in (RequestPhase.FILE_COMPLETE, RequestPhase.PHASE_1, RequestPhase.PHASE_2):
            if phase == RequestPhase.FILE_COMPLETE:
                flow.start_instruction(db, instructor, refused, refused.version)
            else:
                flow.complete_phase(db, instructor, refused, refused.version, phase)
        flow.decide_unfavourable(db, admin, refused, refused.version, "Formateurs non qualifiés.")
        db.commit()
    client = login_as(w.people["gestionnaire"])
    text = text_of(client.get(f"{BASE}/{request.id}/pedagogique"))
    assert "À compléter par l'entité" in text
    assert "Demande renvoyée par la caisse instructrice" in text
    assert "Le déroulé du jour 2 manque." in text
    html = client.get(f"{BASE}/{request.id}/informations").text
    assert 'id="form-brouillon"' in html  # back with the entity: editable again
    # ...but its dispositif stays the one instructed: no select, and the tabs of the
    # Pédagogique tab open by GET instead of posting a form that is not there
    html = client.get(f"{BASE}/{request.id}/pedagogique").text
    assert 'id="scheme_level_id"' not in html and 'id="form-brouillon"' not in html
    assert 'data-hx-include="#form-brouillon"' not in html
    assert "garde le dispositif et le niveau instruits par la caisse" in text_of_html(html)
    text = text_of(client.get(f"{BASE}/{refused.id}/informations"))
    assert "Décision défavorable de la CNH" in text
    assert "Motif : Formateurs non qualifiés." in text
    assert 'id="form-brouillon"' not in client.get(f"{BASE}/{refused.id}/informations").text


def test_a_favourable_decision_links_to_the_accreditation_it_gave(app, db, w, login_as):
    request = submitted(app, db, w, "SST", 1)
    instructor, admin = w.role("instructeur"), w.role("administrateur")
    with app.test_request_context():
        flow.start_instruction(db, instructor, request, request.version)
        flow.complete_phase(db, instructor, request, request.version, RequestPhase.PHASE_1)
        flow.complete_phase(db, instructor, request, request.version, RequestPhase.PHASE_2)
        accreditation = flow.decide_favourable(db, admin, request, request.version, today())
        db.commit()
    client = login_as(w.people["gestionnaire"])
    page = client.get(f"{BASE}/{request.id}/informations")
    assert f'href="/habilitations/{accreditation.id}"' in page.text
    text = text_of(page)
    assert f"Décision favorable de la CNH du {today():%d/%m/%Y}" in text
    assert accreditation.number in text
    steps = re.findall(r'<li class="step step-(\w+)', page.text)
    assert steps == ["done", "done", "done", "done"]
    historique = text_of(client.get(f"{BASE}/{request.id}/historique"))
    for step in (
        "Création",
        "Soumise à la caisse",
        "Instruction commencée (phase 1)",
        "Phase 1 complète",
        "Phase 2 complète : décision CNH",
        "Décision favorable",
    ):
        assert step in historique, step


# --- a new request, a renewal ----------------------------------------------------------------


def test_demande_d_habilitation_creates_a_draft_and_opens_it(app, db, w, login_as):
    client = login_as(w.people["gestionnaire"])
    response = post(client, f"{BASE}/nouvelle")
    request = db.exec(select(AccreditationRequest)).one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/{request.id}/informations"
    assert request.kind == RequestKind.INITIAL and request.phase == RequestPhase.DRAFT
    page = client.get(response.headers["Location"])
    assert f"Demande d'habilitation n° {request.id} créée" in text_of(page)
    assert "Pédagogique : choisissez le dispositif et le niveau." in text_of(page)
    htmx = post(client, f"{BASE}/nouvelle", htmx=True)
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith(f"{BASE}/")


def test_an_entity_not_validated_yet_is_sent_back_to_the_list_with_the_reason(app, db, w, login_as):
    w.org.code, w.org.status = None, OrganizationStatus.SUBMITTED
    db.add(w.org)
    db.commit()
    client = login_as(w.people["gestionnaire"])
    response = post(client, f"{BASE}/nouvelle")
    assert response.status_code == 302 and response.headers["Location"] == "/habilitations/"
    assert "doit être validée par sa caisse" in text_of(client.get("/habilitations/"))
    assert count(db, AccreditationRequest) == 0


@pytest.mark.parametrize(
    ("extra_day", "allowed"),
    [(True, False), (False, True)],
    ids=["12-mois-et-un-jour-avant-la-fin", "12-mois-avant-la-fin"],
)
def test_renewal_opens_twelve_months_before_the_end(app, db, w, login_as, extra_day, allowed):
    end = today() + relativedelta(months=12) + timedelta(days=1 if extra_day else 0)
    accreditation = factories.accreditation(db, w.org, scheme_code="SST", level=1, end=end)
    db.commit()
    opens = flow.renewal_opens_on(accreditation)
    assert opens == (today() + timedelta(days=1) if extra_day else today())
    client = login_as(w.people["gestionnaire"])
    response = post(
        client, f"{BASE}/renouveler/{accreditation.id}", {"version": accreditation.version}
    )
    assert response.status_code == 302
    requests = db.exec(select(AccreditationRequest)).all()
    if not allowed:
        assert response.headers["Location"] == "/habilitations/"
        assert requests == []
        text = text_of(client.get("/habilitations/"))
        assert f"Le renouvellement pourra être demandé à partir du {opens:%d/%m/%Y}." in text
        return
    (request,) = requests
    assert request.kind == RequestKind.RENEWAL and request.renewal_of_id == accreditation.id
    assert response.headers["Location"] == f"{BASE}/{request.id}/informations"
    text = text_of(client.get(f"{BASE}/{request.id}/pedagogique"))
    assert "Renouvellement · État : Brouillon" in text
    assert "SST / 1 — " in text and "garde le dispositif et le niveau" in text
    # the dispositif of a renewal is fixed: no select, no draft on the Pédagogique tab
    assert 'id="scheme_level_id"' not in client.get(f"{BASE}/{request.id}/pedagogique").text


def test_renouveler_on_a_page_read_before_someone_else_s_is_a_conflict(app, db, w, login_as):
    """The list was read at one version of the accreditation; a renewal started in between
    (the row's version moved on): the second click starts nothing and says why."""
    accreditation = factories.accreditation(
        db, w.org, scheme_code="SST", level=1, end=today() + relativedelta(months=6)
    )
    db.commit()
    client = login_as(w.people["gestionnaire"])
    read = accreditation.version
    first = post(client, f"{BASE}/renouveler/{accreditation.id}", {"version": read})
    assert first.status_code == 302 and count(db, AccreditationRequest) == 1
    db.rollback()  # abandon it: only the version still stands in the way
    (renewal,) = db.exec(select(AccreditationRequest)).all()
    renewal.phase = "abandonnee"
    db.add(renewal)
    db.commit()
    second = post(client, f"{BASE}/renouveler/{accreditation.id}", {"version": read})
    assert second.status_code == 302 and second.headers["Location"] == "/habilitations/"
    assert count(db, AccreditationRequest) == 1
    assert "vient d'être demandé par quelqu'un d'autre" in text_of(client.get("/habilitations/"))
    assert post(client, f"{BASE}/renouveler/{accreditation.id}").status_code == 400


def test_another_entity_s_accreditation_cannot_be_renewed(app, db, w, login_as):
    other = factories.organization(db, postal_code="67000")
    accreditation = factories.accreditation(db, other, end=today() + timedelta(days=30))
    db.commit()
    client = login_as(w.people["gestionnaire"])
    assert post(client, f"{BASE}/renouveler/{accreditation.id}").status_code == 404
    assert count(db, AccreditationRequest) == 0


# --- draft on tab switch, inline check, conflicts ------------------------------------------------


def test_moving_to_another_tab_saves_the_draft_and_nothing_when_nothing_changed(
    app, db, w, login_as
):
    request = new_request(app, db, w, "SST", 1)
    client = login_as(w.people["gestionnaire"])
    html = client.get(f"{BASE}/{request.id}/informations").text
    # from the editable tab, the other tabs post its form
    assert f'data-hx-post="{BASE}/{request.id}/informations?aller=entite"' in html
    assert 'data-hx-include="#form-brouillon"' in html
    start = request.version
    before = snapshot(db, request.id)
    unchanged = post(
        client,
        f"{BASE}/{request.id}/informations?aller=entite",
        {"version": start, "requester_comment": ""},
        htmx=True,
    )
    assert unchanged.status_code == 200
    assert unchanged.headers["HX-Push-Url"] == f"{BASE}/{request.id}/entite"
    assert "HX-Request" in unchanged.headers["Vary"]
    assert selected_tab(unchanged) == "entite"
    assert "<html" not in unchanged.text  # the panel alone
    assert "enregistré" not in text_of(unchanged)
    assert snapshot(db, request.id) == before

    saved = post(
        client,
        f"{BASE}/{request.id}/informations?aller=pedagogique",
        {"version": start, "requester_comment": "Deux formateurs en cours."},
        htmx=True,
    )
    assert saved.status_code == 200
    assert "Onglet Informations enregistré." in text_of(saved)
    assert saved.headers["HX-Push-Url"] == f"{BASE}/{request.id}/pedagogique"
    db.expire_all()
    fresh = db.get(AccreditationRequest, request.id)
    assert fresh.requester_comment == "Deux formateurs en cours."
    assert fresh.version == start + 1
    saved_version = fresh.version

    # without JavaScript, "Enregistrer" saves and shows the tab again by its address
    plain = post(
        client,
        f"{BASE}/{request.id}/informations",
        {"version": saved_version, "requester_comment": "Trois formateurs."},
    )
    assert plain.status_code == 302
    assert plain.headers["Location"] == f"{BASE}/{request.id}/informations"
    assert "Onglet Informations enregistré." in text_of(client.get(plain.headers["Location"]))
    assert version_of(db, request.id) == saved_version + 1


def test_a_draft_refused_stays_on_its_tab_with_the_message_next_to_the_field(app, db, w, login_as):
    request = new_request(app, db, w)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    response = post(
        client,
        f"{BASE}/{request.id}/informations?aller=entite",
        {"version": request.version, "requester_comment": "x" * 2001},
        htmx=True,
    )
    assert response.status_code == 422
    assert "HX-Push-Url" not in response.headers
    assert selected_tab(response) == "informations"
    assert re.search(r'id="requester_comment"[^>]*aria-invalid="true"', response.text) or re.search(
        r'aria-invalid="true"[^>]*id="requester_comment"', response.text
    )
    assert "Le commentaire ne doit pas dépasser 2000 caractères." in text_of(response)
    assert "x" * 2001 in response.text  # what was typed is kept
    assert snapshot(db, request.id) == before


def test_the_dispositif_is_checked_as_it_is_chosen_and_nothing_is_saved(app, db, w, login_as):
    factories.accreditation(db, w.org, scheme_code="SST", level=1)
    db.commit()
    other = new_request(app, db, w, "PRAP-IBC", 1)
    request = new_request(app, db, w)
    client = login_as(w.people["gestionnaire"])
    page = client.get(f"{BASE}/{request.id}/pedagogique")
    options = re.findall(r'<option value="(\d*)"', page.text)
    held, asked = level_id(db, "SST", 1), level_id(db, "PRAP-IBC", 1)
    assert str(held) not in options and str(asked) not in options  # neither offered
    assert str(level_id(db, "SST", 2)) in options
    assert str(level_id(db, "SST", 3)) not in options  # INRS only
    assert f'data-hx-post="{BASE}/{request.id}/pedagogique/verifier"' in page.text
    before = snapshot(db, request.id)
    for chosen, message in (
        (
            held,
            "Votre entité détient déjà une habilitation SST / 1 : pour la prolonger, utilisez "
            "« Renouveler » sur cette habilitation, dans les 12 mois avant sa fin.",
        ),
        (asked, "Une demande PRAP-IBC / 1 de votre entité est déjà en cours."),
    ):
        response = post(
            client,
            f"{BASE}/{request.id}/pedagogique/verifier",
            {"version": request.version, "scheme_level_id": chosen},
            htmx=True,
        )
        assert response.status_code == 422
        field = re.search(
            r'<div class="field field-invalid" id="scheme_level_id-champ">.*?</div>',
            response.text,
            re.S,
        ).group(0)
        assert message in text_of_html(field)
        assert 'aria-invalid="true"' in field
    ok = post(
        client,
        f"{BASE}/{request.id}/pedagogique/verifier",
        {"version": request.version, "scheme_level_id": level_id(db, "SST", 2)},
        htmx=True,
    )
    assert ok.status_code == 200 and "field-invalid" not in ok.text
    assert snapshot(db, request.id) == before
    assert other.scheme_level_id == asked

    # the same rule refuses the save (a forged or stale choice), nothing written
    refused = post(
        client,
        f"{BASE}/{request.id}/pedagogique?aller=informations",
        {"version": request.version, "scheme_level_id": held},
        htmx=True,
    )
    assert refused.status_code == 422
    assert "Votre entité détient déjà une habilitation SST / 1" in text_of(refused)
    assert snapshot(db, request.id) == before
    saved = post(
        client,
        f"{BASE}/{request.id}/pedagogique",
        {"version": request.version, "scheme_level_id": level_id(db, "SST", 2)},
    )
    assert saved.status_code == 302
    db.expire_all()
    assert db.get(AccreditationRequest, request.id).scheme_level_id == level_id(db, "SST", 2)


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").strip()


# --- the other fields' inline checks -----------------------------------------------------------


def field_block(html: str, field_id: str) -> str:
    """The block of one field as the macro draws it (label, hint, input, message)."""
    found = re.search(rf'<div class="field[^"]*" id="{field_id}-champ">.*?</div>', html, re.S)
    assert found, field_id
    return found.group(0)


def assert_refused(html: str, field_id: str, message: str) -> None:
    """The message stands next to its field, which a screen reader is told is wrong."""
    block = field_block(html, field_id)
    assert 'class="field field-invalid"' in block, block
    assert message in text_of_html(block).replace("&#34;", '"'), block
    assert 'aria-invalid="true"' in block
    described = re.search(r'aria-describedby="([^"]+)"', block).group(1).split()
    assert f"{field_id}-erreur" in described


def assert_accepted(html: str, field_id: str) -> None:
    block = field_block(html, field_id)
    assert "field-invalid" not in block and "aria-invalid" not in block, block


PLATFORM_FIELDS = ("name", "address", "postal_code", "city")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("name", "x" * 201, "Pas plus de 200 caractères."),
        ("name", "Plateforme\nnord", ONE_LINE),  # a forged line break, refused by every form
        ("address", "x" * 251, "Pas plus de 250 caractères."),
        ("postal_code", "6700", "Le code postal a 5 chiffres, par exemple 67000."),
        ("postal_code", "67 00", "Le code postal a 5 chiffres, par exemple 67000."),
        # digits of another script are not a French postal code
        (
            "postal_code",
            "\uff16\uff17\uff10\uff10\uff10",
            "Le code postal a 5 chiffres, par exemple 67000.",
        ),
        # "Mon entité"'s and the session's rule: a department a caisse covers
        (
            "postal_code",
            "96000",
            "Le code postal 96000 ne correspond à aucun département couvert par une caisse.",
        ),
        ("postal_code", "20700", "Le code postal 20700 ne correspond à aucun département."),
        ("city", "x" * 101, "Pas plus de 100 caractères."),
    ],
)
def test_a_platform_s_field_is_checked_as_it_is_left_and_nothing_is_saved(
    app, db, w, login_as, name, value, message
):
    request = new_request(app, db, w, "CATEC", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    typed = {f"plateforme-{field}": "" for field in PLATFORM_FIELDS}
    typed[f"plateforme-{name}"] = value
    response = post(
        client,
        f"{BASE}/{request.id}/plateformes/verifier",
        {"version": request.version, **typed},
        htmx=True,
    )
    assert response.status_code == 422
    assert "<html" not in response.text and selected_tab(response) == "technique"
    assert_refused(response.text, f"plateforme-{name}", message)
    for other in PLATFORM_FIELDS:
        if other != name:  # left empty: said missing when "Ajouter la plateforme" is pressed
            assert_accepted(response.text, f"plateforme-{other}")
    if "\n" not in value:
        assert f'value="{value}"' in field_block(response.text, f"plateforme-{name}")
    assert "HX-Push-Url" not in response.headers
    assert snapshot(db, request.id) == before
    assert "» ajoutée." not in text_of(response)


def test_a_platform_typed_right_gets_no_message_and_the_save_applies_the_same_rule(
    app, db, w, login_as
):
    request = new_request(app, db, w, "CATEC", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    typed = {
        "plateforme-name": "Plateforme sud",
        "plateforme-address": "2 rue du Sud",
        "plateforme-postal_code": "20200",  # Bastia: Haute-Corse
        "plateforme-city": "Bastia",
    }
    response = post(
        client,
        f"{BASE}/{request.id}/plateformes/verifier",
        {"version": request.version, **typed},
        htmx=True,
    )
    assert response.status_code == 200
    for name in PLATFORM_FIELDS:
        assert_accepted(response.text, f"plateforme-{name}")
    assert 'value="Plateforme sud"' in response.text  # typed, not yet added
    assert "Aucune plateforme fixe" in text_of(response)
    assert snapshot(db, request.id) == before

    # "Ajouter la plateforme" refuses what the check refuses, next to the same field
    refused = post(
        client,
        f"{BASE}/{request.id}/plateformes",
        {"version": request.version, **typed, "plateforme-postal_code": "96000"},
        htmx=True,
    )
    assert refused.status_code == 422
    assert_refused(
        refused.text,
        "plateforme-postal_code",
        "Le code postal 96000 ne correspond à aucun département couvert par une caisse.",
    )
    assert snapshot(db, request.id) == before
    added = post(
        client, f"{BASE}/{request.id}/plateformes", {"version": request.version, **typed}, htmx=True
    )
    assert added.status_code == 200 and "Plateforme « Plateforme sud » ajoutée." in text_of(added)
    assert count(db, Platform, Platform.request_id == request.id) == 1


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("label", "x" * 201, "Pas plus de 200 caractères."),
        ("quantity", "0", "La quantité est un nombre entier de 1 à 9999."),
        ("quantity", "10000", "La quantité est un nombre entier de 1 à 9999."),
        ("quantity", "deux", "La quantité est un nombre entier de 1 à 9999."),
        ("quantity", "2,5", "La quantité est un nombre entier de 1 à 9999."),
        ("description", "x" * 501, "Pas plus de 500 caractères."),
    ],
)
def test_a_line_of_equipment_is_checked_as_each_field_is_left_and_nothing_is_saved(
    app, db, w, login_as, name, value, message
):
    request = new_request(app, db, w, "ECHAF", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    typed = {"materiel-label": "", "materiel-quantity": "", "materiel-description": ""}
    typed[f"materiel-{name}"] = value
    response = post(
        client,
        f"{BASE}/{request.id}/materiel/verifier",
        {"version": request.version, **typed},
        htmx=True,
    )
    assert response.status_code == 422
    assert_refused(response.text, f"materiel-{name}", message)
    for other in ("label", "quantity", "description"):
        if other != name:
            assert_accepted(response.text, f"materiel-{other}")
    assert snapshot(db, request.id) == before

    good = post(
        client,
        f"{BASE}/{request.id}/materiel/verifier",
        {
            "version": request.version,
            "materiel-label": "Harnais",
            "materiel-quantity": " 12 ",
            "materiel-description": "Taille unique",
        },
        htmx=True,
    )
    assert good.status_code == 200
    for other in ("label", "quantity", "description"):
        assert_accepted(good.text, f"materiel-{other}")
    assert "Aucun matériel" in text_of(good)
    assert snapshot(db, request.id) == before


def test_the_comment_s_length_is_checked_as_it_is_left_and_nothing_is_saved(app, db, w, login_as):
    request = new_request(app, db, w, "SST", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    url = f"{BASE}/{request.id}/informations/verifier"
    long = post(
        client, url, {"version": request.version, "requester_comment": "é" * 2001}, htmx=True
    )
    assert long.status_code == 422 and selected_tab(long) == "informations"
    assert_refused(
        long.text, "requester_comment", "Le commentaire ne doit pas dépasser 2000 caractères."
    )
    assert "é" * 2001 in long.text  # what was typed is kept
    # the list of what "Soumettre" still waits for is drawn as before
    assert "Pédagogique : déposez « Lettre d'engagement signée »." in text_of(long)
    # as the save counts it: the spaces around it are not the comment
    fits = post(
        client,
        url,
        {"version": request.version, "requester_comment": "  " + "é" * 2000 + "\n"},
        htmx=True,
    )
    assert fits.status_code == 200
    assert_accepted(fits.text, "requester_comment")
    assert snapshot(db, request.id) == before


def test_the_fields_are_wired_to_their_check_and_still_post_without_javascript(
    app, db, w, login_as
):
    request = new_request(app, db, w, "CATEC", 1)
    client = login_as(w.people["gestionnaire"])
    technique = client.get(f"{BASE}/{request.id}/technique").text
    for form_id, action, prefix, names in (
        ("form-plateforme", "plateformes", "plateforme", PLATFORM_FIELDS),
        ("form-materiel", "materiel", "materiel", ("label", "quantity", "description")),
    ):
        form = re.search(rf'<form id="{form_id}" method="post" action="([^"]+)"', technique)
        assert form and form.group(1) == f"{BASE}/{request.id}/{action}"  # no-JS path
        for name in names:
            tag = re.search(rf'<input[^>]*id="{prefix}-{name}"[^>]*>', technique).group(0)
            assert f'data-hx-post="{BASE}/{request.id}/{action}/verifier"' in tag
            assert 'data-hx-trigger="change"' in tag
            assert f'data-hx-include="#{form_id}"' in tag
            assert f'data-hx-target="#{prefix}-{name}-champ"' in tag
            assert f'data-hx-select="#{prefix}-{name}-champ"' in tag
    # the postal code's hint says what is expected before anything is typed
    postal = field_block(technique, "plateforme-postal_code")
    assert "5 chiffres, par exemple 67000." in text_of_html(postal)
    assert 'aria-describedby="plateforme-postal_code-aide"' in postal
    informations = client.get(f"{BASE}/{request.id}/informations").text
    tag = re.search(r'<textarea[^>]*id="requester_comment"[^>]*>', informations).group(0)
    assert f'data-hx-post="{BASE}/{request.id}/informations/verifier"' in tag
    assert 'data-hx-include="#form-brouillon"' in tag and 'rows="4"' in tag


def test_an_inline_check_without_its_version_is_refused(app, db, w, login_as):
    request = new_request(app, db, w, "CATEC", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    for path, data in (
        ("plateformes/verifier", {"plateforme-postal_code": "6700"}),
        ("materiel/verifier", {"materiel-quantity": "0"}),
        ("informations/verifier", {"requester_comment": "x" * 2001}),
        ("informations/verifier", {"requester_comment": "Bonjour", "version": "abc"}),
    ):
        response = post(client, f"{BASE}/{request.id}/{path}", data, htmx=True)
        assert response.status_code == 400, path
        assert "requester_comment-erreur" not in response.text
    assert snapshot(db, request.id) == before


def test_only_the_entity_s_gestionnaire_may_use_the_inline_checks(app, db, w, login_as):
    request = new_request(app, db, w, "CATEC", 1)
    sst = new_request(app, db, w, "SST", 1)
    other = factories.organization(db, name="AUTRE ENTITÉ", postal_code="67000")
    stranger = factories.person(db, first_name="Paul", last_name="AILLEURS", email="p@exemple.fr")
    factories.grant(db, stranger, Role.GESTIONNAIRE, organization=other)
    db.commit()
    before = snapshot(db, request.id)
    checks = {
        "plateformes/verifier": {"plateforme-postal_code": "6700"},
        "materiel/verifier": {"materiel-quantity": "0"},
        "informations/verifier": {"requester_comment": "x" * 2001},
    }
    for person, status in (
        (w.people["delegataire"], 403),
        (w.people["instructeur"], 403),
        (w.people["administrateur"], 403),
        (stranger, 404),
    ):
        client = login_as(person)
        for path, data in checks.items():
            data = {"version": request.version, **data}
            response = post(client, f"{BASE}/{request.id}/{path}", data, htmx=True)
            assert response.status_code == status, (person.last_name, path)
            assert "ATELIER" not in response.text
        client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/")})
    # a dispositif without a Technique tab has neither platform nor equipment to check
    client = login_as(w.people["gestionnaire"])
    for path in ("plateformes/verifier", "materiel/verifier"):
        response = post(client, f"{BASE}/{sst.id}/{path}", {"version": sst.version}, htmx=True)
        assert response.status_code == 404
    assert snapshot(db, request.id) == before


def test_a_field_checked_after_the_request_was_sent_brings_the_whole_tab_back(app, db, w, login_as):
    """Another gestionnaire sent the request meanwhile: the form is gone from the tab, so
    the check answers with the whole panel (htmx told to swap it there), not a field."""
    request = complete(app, db, w, "CATEC", 1)
    version = request.version
    client = login_as(w.people["gestionnaire"])
    with app.test_request_context():
        flow.submit(db, w.role("gestionnaire_2"), request, request.version)
        db.commit()
    before = snapshot(db, request.id)
    for path, data in (
        ("plateformes/verifier", {"plateforme-postal_code": "6700"}),
        ("materiel/verifier", {"materiel-quantity": "0"}),
        ("informations/verifier", {"requester_comment": "x" * 2001}),
        ("pedagogique/verifier", {"scheme_level_id": level_id(db, "SST", 2)}),
    ):
        response = post(
            client, f"{BASE}/{request.id}/{path}", {"version": version, **data}, htmx=True
        )
        assert response.status_code == 409, path
        assert response.headers["HX-Retarget"] == "#demande-onglets"
        assert response.headers["HX-Reselect"] == "#demande-onglets"
        assert response.headers["HX-Reswap"] == "outerHTML"
        assert 'id="demande-onglets"' in response.text
        assert flow.CONFLICT in text_of(response)
        assert "Dossier administratif complet" in text_of(response)
        assert "-erreur" not in response.text and 'id="form-' not in response.text
    assert snapshot(db, request.id) == before


def test_what_soumettre_waits_for_follows_each_change(app, db, w, login_as):
    request = new_request(app, db, w, "CATEC", 1)
    with app.test_request_context():
        for requirement in flow.requirements_of(db, request.scheme_level_id):
            if requirement.required:
                flow.add_document(
                    db, w.role("gestionnaire"), request, request.version, requirement.kind, upload()
                )
        db.commit()
    client = login_as(w.people["gestionnaire"])
    waiting = "Technique : déclarez au moins une plateforme fixe, ou cochez"
    complete_text = "La demande est complète : vous pouvez la soumettre"

    def informations() -> str:
        return text_of(client.get(f"{BASE}/{request.id}/informations"))

    assert waiting in informations() and complete_text not in informations()
    typed = {
        "plateforme-name": "Plateforme du port",
        "plateforme-address": "5 rue du Port du Rhin",
        "plateforme-postal_code": "67100",
        "plateforme-city": "Strasbourg",
    }
    checked = post(
        client,
        f"{BASE}/{request.id}/plateformes/verifier",
        {"version": request.version, **typed},
        htmx=True,
    )
    assert checked.status_code == 200
    assert waiting in informations()  # a check adds nothing
    added = post(
        client,
        f"{BASE}/{request.id}/plateformes",
        {"version": version_of(db, request.id), **typed},
        htmx=True,
    )
    assert added.status_code == 200
    # moving to Informations (the draft of the tab left posted, as the tabs do)
    moved = post(
        client,
        f"{BASE}/{request.id}/technique?aller=informations",
        {"version": version_of(db, request.id)},
        htmx=True,
    )
    assert selected_tab(moved) == "informations"
    assert waiting not in text_of(moved) and complete_text in text_of(moved)
    platform = db.exec(select(Platform).where(Platform.request_id == request.id)).one()
    post(
        client,
        f"{BASE}/{request.id}/plateformes/{platform.id}/supprimer",
        {"version": version_of(db, request.id)},
        htmx=True,
    )
    assert waiting in informations()
    # the mobile platform counts instead, once saved by moving to another tab
    moved = post(
        client,
        f"{BASE}/{request.id}/technique?aller=informations",
        {"version": version_of(db, request.id), "mobile_platform": "y"},
        htmx=True,
    )
    assert waiting not in text_of(moved) and complete_text in text_of(moved)


def test_a_stale_version_is_a_conflict_and_writes_nothing(app, db, w, login_as):
    request = complete(app, db, w, "CATEC", 1)
    stale = request.version
    with app.test_request_context():
        flow.save_informations(db, w.role("gestionnaire_2"), request, stale, "Changé ailleurs.")
        db.commit()
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    platform = {
        "version": stale,
        "plateforme-name": "Plateforme nord",
        "plateforme-address": "1 rue du Nord",
        "plateforme-postal_code": "67000",
        "plateforme-city": "STRASBOURG",
    }
    for url, data in (
        (f"{BASE}/{request.id}/informations?aller=entite", {"requester_comment": "Moi"}),
        (f"{BASE}/{request.id}/technique", {"mobile_platform": "y"}),
        (f"{BASE}/{request.id}/plateformes", platform),
        (f"{BASE}/{request.id}/materiel", {"materiel-label": "Harnais", "materiel-quantity": "2"}),
        (f"{BASE}/{request.id}/soumettre", {}),
        (f"{BASE}/{request.id}/abandonner", {}),
    ):
        response = post(client, url, {"version": stale, **data}, htmx=True)
        assert response.status_code == 409, url
        assert flow.CONFLICT in text_of(response).replace("&#39;", "'"), url
        assert "Changé ailleurs." in response.text or "Technique" in response.text
    response = post(
        client,
        f"{BASE}/{request.id}/deposer/engagement",
        {"version": stale, "engagement-fichier": (io.BytesIO(PDF), "lettre.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    assert snapshot(db, request.id) == before
    # a form without its version is damaged or forged
    assert post(client, f"{BASE}/{request.id}/soumettre", {}).status_code == 400
    assert snapshot(db, request.id) == before


# --- uploads -----------------------------------------------------------------------------


def test_documents_one_file_replaces_several_add_up_and_each_can_be_removed(app, db, w, login_as):
    request = new_request(app, db, w, "SST", 2)
    client = login_as(w.people["gestionnaire"])

    def send(kind, *files):
        return post(
            client,
            f"{BASE}/{request.id}/deposer/{kind}",
            {"version": version_of(db, request.id), f"{kind}-fichier": list(files)},
            content_type="multipart/form-data",
            htmx=True,
        )

    first = send("engagement", (io.BytesIO(PDF), "lettre signée.pdf"))
    assert first.status_code == 200
    assert "« Lettre d'engagement signée » : fichier déposé." in text_of(first)
    assert "lettre_signee.pdf" in text_of(first)
    second = send("engagement", (io.BytesIO(_pdf(2)), "lettre-v2.pdf"))
    assert "lettre-v2.pdf" in text_of(second) and "lettre_signee.pdf" not in text_of(second)
    assert count(db, RequestDocument, RequestDocument.request_id == request.id) == 1
    both = send("programme", (io.BytesIO(PDF), "jour1.pdf"), (io.BytesIO(PDF), "jour2.pdf"))
    assert "« Programmes de formation » : 2 fichiers déposés." in text_of(both)
    third = send("programme", (io.BytesIO(PDF), "jour3.pdf"))
    assert all(f"jour{n}.pdf" in text_of(third) for n in (1, 2, 3))
    documents = flow.documents_of(db, request.id)
    assert [d.kind for d, _f in documents] == ["engagement"] + ["programme"] * 3
    download = client.get(f"{BASE}/{request.id}/documents/{documents[0][0].id}")
    assert download.status_code == 200 and download.data == _pdf(2)
    assert download.headers["Content-Type"] == "application/pdf"
    removed = post(
        client,
        f"{BASE}/{request.id}/documents/{documents[1][0].id}/supprimer",
        {"version": version_of(db, request.id)},
        htmx=True,
    )
    assert removed.status_code == 200
    assert "Document retiré de la demande." in text_of(removed)
    assert "jour1.pdf" not in text_of(removed) and "jour2.pdf" in text_of(removed)
    # a document asked for by no requirement of this dispositif
    assert send("materiel", (io.BytesIO(PDF), "x.pdf")).status_code == 404


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"Bonjour, ceci est un texte.", "lettre.pdf", NOT_A_PDF),
        (b"", "vide.pdf", "Ce fichier est vide."),
        (None, "gros.pdf", "Le fichier dépasse la taille autorisée (1 Mo)."),
    ],
    ids=["pas-un-pdf", "vide", "trop-gros"],
)
def test_a_refused_file_is_named_next_to_its_field_and_nothing_is_stored(
    app, db, w, login_as, data, name, message
):
    app.config["UPLOAD_MAX_MB"] = 1
    if data is None:  # a real PDF of about 1.2 MB
        writer = PdfWriter()
        writer.add_blank_page(width=595, height=842)
        writer.add_metadata({"/Padding": "x" * 1_200_000})
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    request = new_request(app, db, w, "SST", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    response = post(
        client,
        f"{BASE}/{request.id}/deposer/engagement",
        {"version": request.version, "engagement-fichier": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        htmx=True,
    )
    assert response.status_code == 422
    field = re.search(
        r'<div class="field field-invalid" id="engagement-fichier-champ">.*?</div>',
        response.text,
        re.S,
    ).group(0)
    assert message in text_of_html(field)
    assert (
        'aria-invalid="true"' in field
        and 'aria-describedby="engagement-fichier-aide engagement-fichier-erreur"' in field
    )
    assert snapshot(db, request.id) == before


def test_a_complementary_document_needs_its_title(app, db, w, login_as):
    request = new_request(app, db, w, "CATEC", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    response = post(
        client,
        f"{BASE}/{request.id}/deposer/complementaire",
        {
            "version": request.version,
            "complementaire-label": "  ",
            "complementaire-fichier": (io.BytesIO(PDF), "plan.pdf"),
        },
        content_type="multipart/form-data",
        htmx=True,
    )
    assert response.status_code == 422
    assert "Donnez un intitulé au document." in text_of(response)
    assert snapshot(db, request.id) == before
    response = post(
        client,
        f"{BASE}/{request.id}/deposer/complementaire",
        {
            "version": request.version,
            "complementaire-label": "Plan d'accès",
            "complementaire-fichier": (io.BytesIO(PDF), "plan.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/{request.id}/technique"
    text = text_of(client.get(response.headers["Location"]))
    assert "Plan d'accès plan.pdf" in text


def test_the_commitment_letter_to_sign_is_a_pdf_once_a_dispositif_is_chosen(app, db, w, login_as):
    draft = new_request(app, db, w)
    request = new_request(app, db, w, "SST", 1)
    client = login_as(w.people["gestionnaire"])
    assert client.get(f"{BASE}/{draft.id}/lettre-engagement").status_code == 404
    assert "Télécharger la lettre" not in text_of(client.get(f"{BASE}/{draft.id}/pedagogique"))
    letter = client.get(f"{BASE}/{request.id}/lettre-engagement")
    assert letter.status_code == 200 and letter.headers["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(letter.data)).pages)
    assert "ATELIER SÉCURITÉ" in text and "DURAND" in text


# --- platforms and equipment ---------------------------------------------------------------------


def test_platforms_and_equipment_are_added_with_their_errors_next_to_the_fields(
    app, db, w, login_as
):
    request = new_request(app, db, w, "CATEC", 1)
    client = login_as(w.people["gestionnaire"])
    before = snapshot(db, request.id)
    bad = post(
        client,
        f"{BASE}/{request.id}/plateformes",
        {
            "version": request.version,
            "plateforme-name": "Plateforme sud",
            "plateforme-address": "",
            "plateforme-postal_code": "6700",
            "plateforme-city": "Illkirch",
        },
        htmx=True,
    )
    assert bad.status_code == 422
    for field_id, message in (
        ("plateforme-address", "Indiquez l'adresse."),
        ("plateforme-postal_code", "Le code postal a 5 chiffres, par exemple 67000."),
    ):
        block = re.search(
            rf'<div class="field field-invalid" id="{field_id}-champ">.*?</div>', bad.text, re.S
        ).group(0)
        assert message in text_of_html(block).replace("&#39;", "'")
    assert 'value="Plateforme sud"' in bad.text and 'value="Illkirch"' in bad.text
    assert snapshot(db, request.id) == before

    good = post(
        client,
        f"{BASE}/{request.id}/plateformes",
        {
            "version": request.version,
            "plateforme-name": "Plateforme sud",
            "plateforme-address": "2 rue du Sud",
            "plateforme-postal_code": "67400",
            "plateforme-city": "Illkirch",
        },
        htmx=True,
    )
    assert good.status_code == 200
    assert "Plateforme « Plateforme sud » ajoutée." in text_of(good)
    assert "Plateforme sud 2 rue du Sud 67400 Illkirch" in text_of(good)

    bad = post(
        client,
        f"{BASE}/{request.id}/materiel",
        {
            "version": version_of(db, request.id),
            "materiel-label": "Harnais",
            "materiel-quantity": "0",
        },
        htmx=True,
    )
    assert bad.status_code == 422
    assert "La quantité est un nombre entier de 1 à 9999." in text_of(bad)
    assert 'value="Harnais"' in bad.text
    good = post(
        client,
        f"{BASE}/{request.id}/materiel",
        {
            "version": version_of(db, request.id),
            "materiel-label": "Harnais",
            "materiel-quantity": "4",
            "materiel-description": "Taille unique",
        },
        htmx=True,
    )
    assert good.status_code == 200 and "Harnais 4 Taille unique" in text_of(good)

    platform = db.exec(select(Platform).where(Platform.request_id == request.id)).one()
    item = db.exec(select(Equipment).where(Equipment.request_id == request.id)).one()
    gone = post(
        client,
        f"{BASE}/{request.id}/plateformes/{platform.id}/supprimer",
        {"version": version_of(db, request.id)},
        htmx=True,
    )
    assert "Plateforme « Plateforme sud » retirée." in text_of(gone)
    assert "Aucune plateforme fixe" in text_of(gone)
    gone = post(
        client,
        f"{BASE}/{request.id}/materiel/{item.id}/supprimer",
        {"version": version_of(db, request.id)},
    )
    assert gone.status_code == 302
    assert "Aucun matériel" in text_of(client.get(gone.headers["Location"]))


def test_the_mobile_platform_is_kept_as_a_draft(app, db, w, login_as):
    request = new_request(app, db, w, "ECHAF", 1)
    client = login_as(w.people["gestionnaire"])
    response = post(
        client,
        f"{BASE}/{request.id}/technique?aller=informations",
        {"version": request.version, "mobile_platform": "y"},
        htmx=True,
    )
    assert response.status_code == 200 and "Onglet Technique enregistré." in text_of(response)
    db.expire_all()
    assert db.get(AccreditationRequest, request.id).mobile_platform is True
    page = client.get(f"{BASE}/{request.id}/technique").text
    assert re.search(r'<input[^>]*checked[^>]*id="mobile_platform"', page) or re.search(
        r'<input[^>]*id="mobile_platform"[^>]*checked', page
    )
    unchanged = version_of(db, request.id)
    post(
        client,
        f"{BASE}/{request.id}/technique?aller=informations",
        {"version": unchanged, "mobile_platform": "y"},
        htmx=True,
    )
    assert version_of(db, request.id) == unchanged


# --- Soumettre, Abandonner ---------------------------------------------------------------------


def test_submit_with_a_document_missing_names_the_tab_and_the_document_and_writes_nothing(
    app, db, w, login_as
):
    request = new_request(app, db, w, "SST", 2)
    with app.test_request_context():
        flow.add_document(
            db, w.role("gestionnaire"), request, request.version, "engagement", upload()
        )
        db.commit()
    client = login_as(w.people["gestionnaire"])
    page = text_of(client.get(f"{BASE}/{request.id}/informations"))
    assert "Pédagogique : déposez « Programmes de formation »." in page
    assert "Pédagogique : déposez « Déroulés pédagogiques »." in page
    html = client.get(f"{BASE}/{request.id}/informations").text
    assert f'<a href="{BASE}/{request.id}/pedagogique"' in html  # each item leads to its tab
    before = snapshot(db, request.id)
    response = post(
        client,
        f"{BASE}/{request.id}/soumettre",
        {"version": version_of(db, request.id), "requester_comment": "Mon commentaire"},
        htmx=True,
    )
    assert response.status_code == 422
    text = text_of(response)
    assert (
        "La demande ne peut pas encore être soumise : Pédagogique : déposez « Programmes de "
        "formation ». Pédagogique : déposez « Déroulés pédagogiques »." in text
    )
    assert "Mon commentaire</textarea>" in response.text  # kept, not saved
    assert snapshot(db, request.id) == before


def test_submit_sends_a_complete_request_to_the_caisse(app, db, w, login_as):
    request = complete(app, db, w, "SST", 1)
    client = login_as(w.people["gestionnaire"])
    page = text_of(client.get(f"{BASE}/{request.id}/informations"))
    assert "La demande est complète : vous pouvez la soumettre" in page
    response = post(
        client,
        f"{BASE}/{request.id}/soumettre",
        {"version": request.version, "requester_comment": "Merci."},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/{request.id}/informations"
    db.expire_all()
    fresh = db.get(AccreditationRequest, request.id)
    assert fresh.phase == RequestPhase.FILE_COMPLETE
    assert fresh.requester_comment == "Merci."
    text = text_of(client.get(response.headers["Location"]))
    assert "Votre demande est soumise à la caisse instructrice" in text
    assert "État : Dossier administratif complet" in text
    assert "Merci." in text and "Soumettre" not in text  # read only now


def test_abandon_is_confirmed_on_a_page_of_its_own(app, db, w, login_as):
    request = new_request(app, db, w, "SST", 1)
    client = login_as(w.people["gestionnaire"])
    assert (
        f'href="{BASE}/{request.id}/abandonner"'
        in client.get(f"{BASE}/{request.id}/informations").text
    )
    confirm = client.get(f"{BASE}/{request.id}/abandonner")
    assert confirm.status_code == 200
    assert f"Abandonner la demande d'habilitation n° {request.id} ?" in text_of(confirm)
    assert f'name="version" value="{request.version}"' in confirm.text
    response = post(client, f"{BASE}/{request.id}/abandonner", {"version": request.version})
    assert response.status_code == 302 and response.headers["Location"] == "/habilitations/"
    db.expire_all()
    assert db.get(AccreditationRequest, request.id).phase == RequestPhase.ABANDONED
    assert f"La demande d'habilitation n° {request.id} est abandonnée." in text_of(
        client.get("/habilitations/")
    )
    # nothing left to abandon
    assert client.get(f"{BASE}/{request.id}/abandonner").status_code == 404
    again = post(client, f"{BASE}/{request.id}/abandonner", {"version": request.version + 1})
    assert again.status_code == 422
