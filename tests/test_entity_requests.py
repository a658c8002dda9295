"""Demande de nouvelle entité, through its screens: two steps, live checks, the caisse named
from the postal code, uploads refused with nothing stored, draft → submit → (returned →)
resubmit, abandon, and another demandeur's request out of reach."""

import io
import re
from datetime import timedelta

import pytest
from sqlmodel import func, select

from app.clock import today
from app.models import AuditEvent, Notification, Organization, OutboxEmail, StoredFile
from app.models.organizations import OrganizationStatus
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token
from tests.test_caisse_routing import DEPARTMENT_TO_FUND, _postal_code
from tests.test_uploads import EXE, HTML, real_pdf


@pytest.fixture
def demandeur(db):
    person = factories.person(db, first_name="Christine", last_name="MARTIN")
    factories.grant(db, person, Role.DEMANDEUR)
    db.commit()
    return person


@pytest.fixture
def client_d(login_as, demandeur):
    return login_as(demandeur)


def step1(**changes) -> dict:
    data = {
        "kind": "entreprise",
        "name": "NOTRE ENTREPRISE",
        "regime": "Régime général",
        "siret": "732 829 320 00074",
        "activity_number": "",
        "urssaf_issued_on": (today() - timedelta(days=30)).strftime("%d/%m/%Y"),
        "address": "3 rue des Lilas",
        "postal_code": "67000",
        "city": "Strasbourg",
    }
    data.update(changes)
    return data


def post(client, path, data, *, file=None, name="attestation.pdf", **kw):
    data = {**data, "csrf_token": csrf_token(client, "/")}
    if file is not None:
        data["urssaf_file"] = (io.BytesIO(file), name)
    return client.post(path, data=data, content_type="multipart/form-data", **kw)


def stored(db) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(StoredFile)).one()


def mine(db, person) -> list[Organization]:
    db.expire_all()
    return db.exec(
        select(Organization)
        .where(Organization.created_by_id == person.id)
        .order_by(Organization.id)
    ).all()


def text(response) -> str:
    return response.get_data(as_text=True)


def create_draft(client, db, demandeur, **changes) -> Organization:
    response = post(client, "/demandes-entite/nouvelle", step1(**changes), file=real_pdf())
    assert response.status_code == 302, text(response)
    return mine(db, demandeur)[-1]


def fill_step2(client, org, action="soumettre", **changes):
    data = {
        "version": str(org.version),
        "signatory_last_name": "MARTIN",
        "signatory_first_name": "Christine",
        "signatory_function": "Gérante",
        "action": action,
        **changes,
    }
    return post(client, f"/demandes-entite/{org.id}/etape-2", data)


# --- the caisse, named as the postal code is typed ------------------------------------


@pytest.mark.parametrize("department", sorted(DEPARTMENT_TO_FUND))
def test_the_live_check_names_the_caisse_of_every_department(db, client_d, department):
    from app.models import Fund

    fund = db.exec(select(Fund).where(Fund.code == DEPARTMENT_TO_FUND[department])).one()
    response = post(
        client_d, "/demandes-entite/verifier/1", {"postal_code": _postal_code(department)}
    )
    html = text(response)
    caisse = re.search(r'<p id="caisse-instructrice"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "Caisse instructrice : <strong>" + fund.name.replace("'", "&#39;") in caisse, caisse


@pytest.mark.parametrize(
    ("postal_code", "message"),
    [
        ("00000", "Le code postal 00000 ne correspond à aucun département couvert par une caisse."),
        ("96000", "Le code postal 96000 ne correspond à aucun département couvert par une caisse."),
        ("9740", "Le code postal doit comporter 5 chiffres."),
    ],
)
def test_refused_postal_codes_are_said_next_to_the_field(
    db, client_d, demandeur, postal_code, message
):
    live = post(client_d, "/demandes-entite/verifier/1", {"postal_code": postal_code})
    assert live.status_code == 422
    assert "Aucune caisse instructrice pour ce code postal." in text(live)
    assert f'<p class="error" id="postal_code-erreur" role="alert">{message}</p>' in text(live)
    before = stored(db)
    saved = post(
        client_d, "/demandes-entite/nouvelle", step1(postal_code=postal_code), file=real_pdf()
    )
    assert saved.status_code == 422
    assert message in text(saved)
    assert 'value="NOTRE ENTREPRISE"' in text(saved)  # the rest of the form is kept
    assert mine(db, demandeur) == [] and stored(db) == before


# --- step 1: field rules and uploads --------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"siret": "73282932000075"}, "siret", "Ce SIRET n&#39;existe pas"),
        ({"siret": "7328293200007"}, "siret", "Le SIRET doit comporter 14 chiffres."),
        ({"city": "Paris"}, "city", "Le code postal 67000 est celui de Strasbourg"),
        (
            {"urssaf_issued_on": (today() - timedelta(days=245)).strftime("%d/%m/%Y")},
            "urssaf_issued_on",
            "L&#39;attestation URSSAF doit dater de moins de 6 mois",
        ),
        (
            {"kind": "organisme_formation", "activity_number": "123"},
            "activity_number",
            "Le numéro de déclaration d&#39;activité doit comporter 11 chiffres.",
        ),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_stored(
    db, client_d, demandeur, changes, field, message
):
    live = post(client_d, "/demandes-entite/verifier/1", step1(**changes))
    assert live.status_code == 422
    assert re.search(rf'id="{field}-erreur" role="alert">{re.escape(message)}', text(live))
    before = stored(db)
    response = post(client_d, "/demandes-entite/nouvelle", step1(**changes), file=real_pdf())
    assert response.status_code == 422
    assert re.search(rf'id="{field}-erreur" role="alert">{re.escape(message)}', text(response))
    assert 'value="3 rue des Lilas"' in text(response)
    assert "Le fichier choisi n&#39;a pas été gardé" in text(response), "say: choose it again"
    assert mine(db, demandeur) == [] and stored(db) == before


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (EXE, "attestation.pdf", "Ce fichier n&#39;est pas un PDF lisible."),
        (HTML, "attestation.pdf", "Ce fichier n&#39;est pas un PDF lisible."),
        (b"", "attestation.pdf", "Ce fichier est vide."),
        (real_pdf()[:400], "attestation.pdf", "Ce PDF est incomplet"),
    ],
    ids=["exe", "html", "vide", "tronque"],
)
def test_refused_attestations_store_nothing(db, client_d, demandeur, data, name, message):
    before = stored(db)
    response = post(client_d, "/demandes-entite/nouvelle", step1(), file=data, name=name)
    assert response.status_code == 422
    assert re.search(rf'id="urssaf_file-erreur" role="alert">{re.escape(message)}', text(response))
    assert 'value="NOTRE ENTREPRISE"' in text(response)
    assert "Le fichier choisi n&#39;a pas été gardé" not in text(response), "its error says it"
    assert mine(db, demandeur) == [] and stored(db) == before


def test_an_11_mb_attestation_is_refused_in_french_before_it_is_read(db, client_d, demandeur):
    before = stored(db)
    response = post(
        client_d, "/demandes-entite/nouvelle", step1(), file=real_pdf(padding=11 * 1024 * 1024)
    )
    assert response.status_code == 413
    assert "dépasse la taille autorisée (10 Mo)" in text(response)
    assert mine(db, demandeur) == [] and stored(db) == before


# --- the flow ---------------------------------------------------------------------------


def test_draft_next_previous_submit_and_the_caisse_is_told(app, db, client_d, demandeur):
    strasbourg = factories.person(db, email="instr67@exemple.fr")
    factories.grant(db, strasbourg, Role.INSTRUCTEUR, fund_=factories.fund(db, "ALSACE-MOSELLE"))
    paris = factories.person(db, email="instr75@exemple.fr")
    factories.grant(db, paris, Role.INSTRUCTEUR, fund_=factories.fund(db, "CRAMIF"))
    db.commit()
    # Enregistrer keeps an incomplete draft
    saved = post(
        client_d, "/demandes-entite/nouvelle", {"name": "NOTRE ENTREPRISE", "action": "enregistrer"}
    )
    assert saved.status_code == 302
    (org,) = mine(db, demandeur)
    assert org.status == OrganizationStatus.DRAFT and org.fund_id is None
    assert saved.headers["Location"].endswith(f"/demandes-entite/{org.id}/etape-1")
    # Suivant asks for the whole step 1
    incomplete = post(
        client_d,
        f"/demandes-entite/{org.id}/etape-1",
        {"version": str(org.version), "name": "NOTRE ENTREPRISE", "action": "suivant"},
    )
    assert incomplete.status_code == 422
    assert "Le SIRET doit être renseigné." in text(incomplete)
    assert "Joignez l&#39;attestation URSSAF au format PDF." in text(incomplete)
    nxt = post(
        client_d,
        f"/demandes-entite/{org.id}/etape-1",
        {**step1(), "version": str(org.version), "action": "suivant"},
        file=real_pdf(),
    )
    assert nxt.status_code == 302 and nxt.headers["Location"].endswith("/etape-2")
    org = mine(db, demandeur)[0]
    assert org.siret == "73282932000074" and org.urssaf_file_id is not None
    assert org.fund_id == factories.fund(db, "ALSACE-MOSELLE").id
    page2 = client_d.get(f"/demandes-entite/{org.id}/etape-2")
    assert "Signataire de la lettre d'engagement" in text(page2)
    # Précédent saves step 2 and goes back
    back = fill_step2(client_d, org, action="precedent", signatory_function="")
    assert back.headers["Location"].endswith("/etape-1")
    org = mine(db, demandeur)[0]
    assert org.signatory_last_name == "MARTIN" and org.signatory_function is None
    page1 = text(client_d.get(f"/demandes-entite/{org.id}/etape-1"))
    assert "Caisse instructrice : <strong>Carsat Alsace-Moselle</strong>" in page1
    assert f'href="/demandes-entite/{org.id}/attestation"' in page1
    # Soumettre with the function missing: saved, told, not submitted
    missing = fill_step2(client_d, org, signatory_function="")
    assert missing.status_code == 422
    assert "La fonction du signataire doit être renseignée." in text(missing)
    assert mine(db, demandeur)[0].status == OrganizationStatus.DRAFT
    org = mine(db, demandeur)[0]
    done = fill_step2(client_d, org)
    assert done.status_code == 302
    org = mine(db, demandeur)[0]
    assert org.status == OrganizationStatus.SUBMITTED and org.submitted_at is not None
    listing = text(client_d.get("/demandes-entite/"))
    assert "Partie administrative en cours de validation" in listing
    assert "Carsat Alsace-Moselle" in listing
    tasks = db.exec(select(Notification).where(Notification.object_id == org.id)).all()
    assert [t.person_id for t in tasks] == [strasbourg.id]
    assert tasks[0].link == f"/instruction/entites/{org.id}" or "/entites/" in tasks[0].link
    mails = db.exec(select(OutboxEmail.to_address)).all()
    assert "instr67@exemple.fr" in mails and "instr75@exemple.fr" not in mails
    actions = db.exec(
        select(AuditEvent.action, AuditEvent.to_state)
        .where(AuditEvent.object_type == "organization", AuditEvent.object_id == org.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        ("organization.created", "brouillon"),
        ("organization.submitted", "en_validation"),
    ]
    # a submitted request is read-only
    assert client_d.get(f"/demandes-entite/{org.id}/etape-1").status_code == 302
    late = post(
        client_d, f"/demandes-entite/{org.id}/etape-1", {**step1(), "version": str(org.version)}
    )
    assert late.status_code == 409


def test_a_returned_request_shows_the_comment_and_is_resubmitted(db, client_d, demandeur):
    org = create_draft(client_d, db, demandeur)
    fill_step2(client_d, org)
    org = mine(db, demandeur)[0]
    org.status = OrganizationStatus.RETURNED
    org.return_comment = "L'attestation URSSAF est illisible."
    org.version += 1
    db.add(org)
    db.commit()
    page = text(client_d.get(f"/demandes-entite/{org.id}/etape-1"))
    assert "Commentaire de la caisse instructrice" in page
    assert "L&#39;attestation URSSAF est illisible." in page
    assert "Renvoyée : à corriger" in text(client_d.get("/demandes-entite/"))
    fixed = post(
        client_d,
        f"/demandes-entite/{org.id}/etape-1",
        {**step1(), "version": str(org.version), "action": "suivant"},
        file=real_pdf(pages=2),
    )
    assert fixed.status_code == 302
    assert stored(db) == 1  # the replaced attestation is gone
    org = mine(db, demandeur)[0]
    assert fill_step2(client_d, org).status_code == 302
    assert mine(db, demandeur)[0].status == OrganizationStatus.SUBMITTED


def test_two_tabs_saving_the_same_request_get_a_conflict(db, client_d, demandeur):
    org = create_draft(client_d, db, demandeur)
    first = post(
        client_d,
        f"/demandes-entite/{org.id}/etape-1",
        {**step1(name="A"), "version": str(org.version)},
    )
    assert first.status_code == 302
    second = post(
        client_d,
        f"/demandes-entite/{org.id}/etape-1",
        {**step1(name="B"), "version": str(org.version)},
    )
    assert second.status_code == 409
    assert "modifiée entre-temps" in text(second)
    assert mine(db, demandeur)[0].name == "A"


def test_abandon_after_a_confirmation(db, client_d, demandeur):
    org = create_draft(client_d, db, demandeur)
    confirm = text(client_d.get(f"/demandes-entite/{org.id}/abandonner"))
    assert "Cette action est définitive" in confirm
    gone = post(client_d, f"/demandes-entite/{org.id}/abandonner", {"version": str(org.version)})
    assert gone.status_code == 302
    assert mine(db, demandeur)[0].status == OrganizationStatus.ABANDONED
    assert client_d.get(f"/demandes-entite/{org.id}").status_code == 404
    assert "NOTRE ENTREPRISE" not in text(client_d.get("/demandes-entite/"))


def test_the_attestation_is_downloaded_by_its_owner_only(app, db, client_d, demandeur, auth):
    org = create_draft(client_d, db, demandeur)
    response = client_d.get(f"/demandes-entite/{org.id}/attestation")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="attestation.pdf"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data.startswith(b"%PDF-")
    auth.logout()
    other = factories.person(db, email="autre@exemple.fr")
    factories.grant(db, other, Role.DEMANDEUR)
    db.commit()
    auth.login(other.email)
    assert client_d.get(f"/demandes-entite/{org.id}/attestation").status_code == 404


def test_forged_posts_on_another_demandeurs_request_are_404(db, client_d, demandeur, auth):
    org = create_draft(client_d, db, demandeur)
    auth.logout()
    other = factories.person(db, email="autre@exemple.fr")
    factories.grant(db, other, Role.DEMANDEUR)
    db.commit()
    auth.login(other.email)
    version = {"version": str(org.version)}
    for path, data in [
        (f"/demandes-entite/{org.id}/etape-1", {**step1(name="PIRATE"), **version}),
        (f"/demandes-entite/{org.id}/etape-2", {**version, "action": "soumettre"}),
        (f"/demandes-entite/{org.id}/abandonner", version),
    ]:
        assert post(client_d, path, data).status_code == 404, path
    for path in (f"/demandes-entite/{org.id}", f"/demandes-entite/{org.id}/etape-1"):
        assert client_d.get(path).status_code == 404
    fresh = mine(db, demandeur)[0]
    assert (fresh.name, fresh.status, fresh.version) == (
        "NOTRE ENTREPRISE",
        "brouillon",
        org.version,
    )


def test_the_dashboard_and_menu_lead_to_the_requests(db, client_d, demandeur):
    org = create_draft(client_d, db, demandeur)
    home = text(client_d.get("/"))
    assert 'href="/demandes-entite/"' in home
    assert 'href="/demandes-entite/nouvelle"' in home
    assert f"n° {org.id} NOTRE ENTREPRISE</a> — Brouillon" in home
