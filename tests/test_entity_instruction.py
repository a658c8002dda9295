"""The caisse instructs entity requests and changes: its queue, the request read-only with
its attestation, Valider / Renvoyer au demandeur, a change accepted or refused; another
caisse's instructor finds nothing (404, nothing written); two decisions at once: one wins."""

import threading
from datetime import timedelta

import pytest
from sqlmodel import func, select

from app.clock import to_paris, utcnow
from app.domain.storage import get_storage
from app.models import (
    AuditEvent,
    Notification,
    Organization,
    OrganizationChange,
    OutboxEmail,
    RoleGrant,
)
from app.models.organizations import (
    OrganizationChangeStatus,
    OrganizationKind,
    OrganizationStatus,
)
from app.models.people import Role
from jobs.mail import deliver_outbox
from tests import factories
from tests.conftest import AuthActions, csrf_token, is_postgres

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def submitted_request(
    db,
    *,
    name="ATELIER PRÉVENTION",
    postal_code="67000",
    creator=None,
    fund_code="ALSACE-MOSELLE",
    submitted_at=None,
    with_attestation=False,
):
    creator = creator or factories.person(db, first_name="Julie", last_name="DEMANGE")
    org = Organization(
        kind=OrganizationKind.TRAINING,
        name=name,
        regime="Régime général",
        siret="73282932000074",
        activity_number="42670123456",
        address="3 rue de la Sinne",
        postal_code=postal_code,
        city="STRASBOURG",
        department_code=postal_code[:2],
        fund_id=factories.fund(db, fund_code).id,
        status=OrganizationStatus.SUBMITTED,
        signatory_last_name="DURAND",
        signatory_first_name="Claire",
        signatory_function="Directrice",
        created_by_id=creator.id,
        submitted_at=submitted_at or utcnow(),
    )
    if with_attestation:
        org.urssaf_file_id = (
            get_storage()
            .save(db, name="attestation-urssaf.pdf", content_type="application/pdf", data=PDF)
            .id
        )
    db.add(org)
    db.flush()
    return org


def instructor(db, fund_code="ALSACE-MOSELLE", **fields):
    person = factories.person(db, **fields)
    grant = factories.grant(db, person, Role.INSTRUCTEUR, fund_=factories.fund(db, fund_code))
    return person, grant


def logged_in(app, person, grant=None):
    """A client of its own (several people act at once in these tests)."""
    client = app.test_client()
    actions = AuthActions(client)
    assert actions.login(person.email).status_code == 302
    if grant is not None:
        assert actions.switch(grant.id).status_code == 302
    return client


def post(client, url, page, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def counts(db, org_id):
    db.expire_all()
    return (
        db.exec(select(func.count()).select_from(AuditEvent)).one(),
        db.exec(
            select(func.count()).select_from(RoleGrant).where(RoleGrant.organization_id == org_id)
        ).one(),
        db.exec(select(func.count()).select_from(OutboxEmail)).one(),
        db.exec(select(func.count()).select_from(Notification)).one(),
    )


# --- isolation ---------------------------------------------------------------------------


def test_another_caisse_finds_nothing_and_a_forged_decision_writes_nothing(app, db):
    org = submitted_request(db, with_attestation=True)
    change = OrganizationChange(
        organization_id=factories.organization(db).id,
        requested_by_id=org.created_by_id,
        changes={"name": "NOUVEAU NOM"},
        fund_id=org.fund_id,
    )
    db.add(change)
    cramif, cramif_grant = instructor(db, "CRAMIF")
    db.commit()
    client = logged_in(app, cramif, cramif_grant)

    before = counts(db, org.id)
    listing = client.get("/instruction/demandes?etat=toutes").get_data(as_text=True)
    assert "ATELIER PRÉVENTION" not in listing and "NOUVEAU NOM" not in listing
    for url in (
        f"/instruction/entites/{org.id}",
        f"/instruction/entites/{org.id}/attestation",
        f"/instruction/modifications/{change.id}",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/instruction/entites/{org.id}/valider",
        f"/instruction/entites/{org.id}/renvoyer",
        f"/instruction/modifications/{change.id}/accepter",
        f"/instruction/modifications/{change.id}/refuser",
    ):
        answer = post(client, url, "/", version=str(1), comment="Pirate")
        assert answer.status_code == 404, url
        assert "Page introuvable" in answer.get_data(as_text=True)
    db.expire_all()
    assert db.get(Organization, org.id).status == OrganizationStatus.SUBMITTED
    assert db.get(Organization, org.id).code is None
    assert db.get(OrganizationChange, change.id).status == OrganizationChangeStatus.PENDING
    assert counts(db, org.id) == before


def test_the_queue_is_the_caisses_and_the_administrator_sees_every_caisse(app, db):
    mine = submitted_request(db, name="ENTITÉ ALSACIENNE")
    submitted_request(db, name="ENTITÉ FRANCILIENNE", postal_code="75011", fund_code="CRAMIF")
    alsace, alsace_grant = instructor(db)
    admin = factories.person(db)
    admin_grant = factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()

    page = logged_in(app, alsace, alsace_grant).get("/instruction/demandes").get_data(as_text=True)
    assert "ENTITÉ ALSACIENNE" in page and "ENTITÉ FRANCILIENNE" not in page
    assert f'href="/instruction/entites/{mine.id}"' in page

    admin_client = logged_in(app, admin, admin_grant)
    page = admin_client.get("/instruction/demandes").get_data(as_text=True)
    assert "ENTITÉ ALSACIENNE" in page and "ENTITÉ FRANCILIENNE" in page
    assert "Carsat Alsace-Moselle" in page and "Cramif" in page  # the caisse column
    # the administrator reads it, the caisse decides
    detail = admin_client.get(f"/instruction/entites/{mine.id}").get_data(as_text=True)
    assert "ENTITÉ ALSACIENNE" in detail and "Valider" not in detail
    assert (
        post(admin_client, f"/instruction/entites/{mine.id}/valider", "/", version="1").status_code
        == 403
    )


def test_filters_sort_and_pages_of_the_queue(app, db):
    now = utcnow()
    for n in range(30):
        submitted_request(db, name=f"ENTITÉ {n:02d}", submitted_at=now - timedelta(days=n))
    submitted_request(
        db, name="ENTITÉ MULHOUSE", postal_code="68100", submitted_at=now - timedelta(days=40)
    )
    returned = submitted_request(db, name="ENTITÉ RENVOYÉE")
    returned.status = OrganizationStatus.RETURNED
    validated = factories.organization(db, name="ENTITÉ MODIFIÉE")
    db.add(
        OrganizationChange(
            organization_id=validated.id,
            requested_by_id=returned.created_by_id,
            changes={"regime": "Autre"},
            fund_id=validated.fund_id,
        )
    )
    alsace, grant = instructor(db)
    db.commit()
    client = logged_in(app, alsace, grant)

    # oldest first, 25 a page: page 2 ends with the most recent
    first = client.get("/instruction/demandes?type=entite").get_data(as_text=True)
    assert first.index("ENTITÉ MULHOUSE") < first.index("ENTITÉ 29") < first.index("ENTITÉ 10")
    assert "Page 1 sur 2 (31 au total)" in first
    assert "ENTITÉ RENVOYÉE" not in first and "ENTITÉ MODIFIÉE" not in first
    second = client.get("/instruction/demandes?type=entite&page=2").get_data(as_text=True)
    assert "ENTITÉ 00" in second and "ENTITÉ 29" not in second
    newest = client.get("/instruction/demandes?type=entite&ordre=desc").get_data(as_text=True)
    assert newest.index("ENTITÉ 00") < newest.index("ENTITÉ 01")
    by_name = client.get("/instruction/demandes?tri=raison_sociale&ordre=desc").get_data(
        as_text=True
    )
    assert by_name.index("ENTITÉ MULHOUSE") < by_name.index("ENTITÉ 29")

    department = client.get("/instruction/demandes?departement=68").get_data(as_text=True)
    assert "ENTITÉ MULHOUSE" in department and "ENTITÉ 00" not in department
    # the day in Paris, as the filter counts it (late in the UTC evening, it is the next day)
    day = to_paris(now - timedelta(days=40)).date().isoformat()
    dated = client.get(f"/instruction/demandes?du={day}&au={day}").get_data(as_text=True)
    assert "ENTITÉ MULHOUSE" in dated and "ENTITÉ 00" not in dated and "(1 au total)" not in dated
    changes = client.get("/instruction/demandes?type=modification").get_data(as_text=True)
    assert "ENTITÉ MODIFIÉE" in changes and "ENTITÉ 00" not in changes
    sent_back = client.get("/instruction/demandes?etat=renvoyee").get_data(as_text=True)
    assert "ENTITÉ RENVOYÉE" in sent_back and "ENTITÉ 00" not in sent_back

    # the dashboard's counts lead to those lists
    board = client.get("/").get_data(as_text=True)
    assert (
        'href="/instruction/demandes?etat=a_instruire&amp;type=entite">Dossiers administratifs à valider</a></dt><dd>31</dd>'
        in board
    )
    assert (
        'href="/instruction/demandes?etat=a_instruire&amp;type=modification">Modifications d&#39;entité à valider</a></dt><dd>1</dd>'
        in board
    )


# --- validate, return ------------------------------------------------------------------


def test_validating_gives_the_code_the_gestionnaire_role_and_the_mail(app, db, smtp_server):
    factories.organization(db, name="DÉJÀ LÀ")  # holds some code: the next one is free
    highest = db.exec(select(func.max(Organization.code))).one()
    requester = factories.person(
        db, first_name="Julie", last_name="DEMANGE", email="julie@exemple.fr"
    )
    requester_grant = factories.grant(db, requester, Role.DEMANDEUR)
    org = submitted_request(db, name="ATELIER PRÉVENTION", creator=requester, with_attestation=True)
    alsace, grant = instructor(db)
    db.commit()
    requester_client = logged_in(app, requester, requester_grant)
    assert "Gestionnaire — ATELIER PRÉVENTION" not in requester_client.get("/").get_data(
        as_text=True
    )

    client = logged_in(app, alsace, grant)
    page = client.get(f"/instruction/entites/{org.id}").get_data(as_text=True)
    assert "73282932000074" in page and "DURAND" in page and "Valider" in page
    attestation = client.get(f"/instruction/entites/{org.id}/attestation")
    assert attestation.status_code == 200 and attestation.data == PDF
    assert attestation.headers["Content-Disposition"].startswith("attachment")
    assert attestation.mimetype == "application/pdf"

    answer = post(
        client,
        f"/instruction/entites/{org.id}/valider",
        f"/instruction/entites/{org.id}",
        version="1",
    )
    assert answer.status_code == 302
    db.expire_all()
    org = db.get(Organization, org.id)
    assert org.status == OrganizationStatus.VALIDATED
    assert org.code == f"{int(highest) + 1:05d}" and org.validated_at is not None
    held = db.exec(
        select(RoleGrant).where(
            RoleGrant.person_id == requester.id, RoleGrant.organization_id == org.id
        )
    ).one()
    assert held.role == Role.GESTIONNAIRE and held.active
    event = db.exec(
        select(AuditEvent).where(
            AuditEvent.object_type == "organization", AuditEvent.object_id == org.id
        )
    ).one()
    assert (event.actor_id, event.to_state) == (alsace.id, OrganizationStatus.VALIDATED)
    page = client.get(f"/instruction/entites/{org.id}").get_data(as_text=True)
    assert org.code in page and "Dossier administratif validé" in page and ">Valider<" not in page

    # at their next page, without logging out, the requester holds the new role
    board = requester_client.get("/").get_data(as_text=True)
    assert "Gestionnaire — ATELIER PRÉVENTION" in board
    assert f"Votre demande d&#39;entité ATELIER PRÉVENTION est validée (code {org.code})" in board
    with app.app_context():
        app.config["SMTP_PORT"] = smtp_server.port
        deliver_outbox()
    mails = [m for m in smtp_server.messages if m["To"] == "julie@exemple.fr"]
    assert len(mails) == 1
    assert "est validée" in str(mails[0]["Subject"])
    assert org.code in mails[0].get_body(("plain",)).get_content()


def test_returning_needs_a_comment_the_requester_reads(app, db):
    requester = factories.person(db, email="julie@exemple.fr", notify_notifications=False)
    requester_grant = factories.grant(db, requester, Role.DEMANDEUR)
    org = submitted_request(db, creator=requester)
    alsace, grant = instructor(db)
    db.commit()
    client = logged_in(app, alsace, grant)
    page = f"/instruction/entites/{org.id}"

    empty = post(client, f"{page}/renvoyer", page, version="1", comment="   ")
    assert empty.status_code == 422
    assert "Expliquez dans le commentaire ce qu&#39;il faut corriger." in empty.get_data(
        as_text=True
    )
    db.expire_all()
    assert db.get(Organization, org.id).status == OrganizationStatus.SUBMITTED

    comment = "L'attestation URSSAF a plus de 6 mois : déposez-en une récente."
    assert post(client, f"{page}/renvoyer", page, version="1", comment=comment).status_code == 302
    db.expire_all()
    org = db.get(Organization, org.id)
    assert (org.status, org.return_comment) == (OrganizationStatus.RETURNED, comment)
    assert org.returned_at is not None and org.code is None
    assert "Renvoyée au demandeur" in client.get(page).get_data(as_text=True)
    board = logged_in(app, requester, requester_grant).get("/").get_data(as_text=True)
    assert "déposez-en une récente" in board
    # they chose no mail for notifications: none is written
    assert db.exec(select(func.count()).select_from(OutboxEmail)).one() == 0


def test_the_second_of_two_decisions_on_the_same_version_gets_a_conflict(app, db):
    org = submitted_request(db)
    first, first_grant = instructor(db)
    second, second_grant = instructor(db)
    db.commit()
    page = f"/instruction/entites/{org.id}"
    one, two = logged_in(app, first, first_grant), logged_in(app, second, second_grant)
    token_one, token_two = csrf_token(one, page), csrf_token(two, page)  # both read version 1

    assert (
        one.post(f"{page}/valider", data={"csrf_token": token_one, "version": "1"}).status_code
        == 302
    )
    late = two.post(
        f"{page}/renvoyer", data={"csrf_token": token_two, "version": "1", "comment": "À revoir"}
    )
    assert late.status_code == 409
    assert "Cette demande a déjà été décidée" in late.get_data(as_text=True)
    assert "Dossier administratif validé" in late.get_data(as_text=True)
    db.expire_all()
    org = db.get(Organization, org.id)
    assert org.status == OrganizationStatus.VALIDATED and org.return_comment is None
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == 1


@pytest.mark.skipif(not is_postgres(), reason="SQLite runs one write at a time")
def test_decisions_at_the_same_instant_on_postgresql(app, db):
    """Two instructors validating one request at once: one wins, the other is told; two
    requests validated at once get two different codes (the second takes the next one)."""
    same = submitted_request(db, name="LA MÊME")
    other = submitted_request(db, name="UNE AUTRE")
    people = [instructor(db) for _ in range(3)]
    db.commit()
    clients = [logged_in(app, person, grant) for person, grant in people]
    targets = [same.id, same.id, other.id]
    tokens = [
        csrf_token(c, f"/instruction/entites/{t}") for c, t in zip(clients, targets, strict=True)
    ]
    barrier = threading.Barrier(3)
    answers = {}

    def decide(i):
        barrier.wait()
        answers[i] = clients[i].post(
            f"/instruction/entites/{targets[i]}/valider",
            data={"csrf_token": tokens[i], "version": "1"},
        )

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted([answers[0].status_code, answers[1].status_code]) == [302, 409]
    loser = answers[0] if answers[0].status_code == 409 else answers[1]
    assert "déjà été décidée" in loser.get_data(as_text=True)
    assert answers[2].status_code == 302
    db.expire_all()
    codes = {db.get(Organization, i).code for i in (same.id, other.id)}
    assert len(codes) == 2 and None not in codes


# --- changes ---------------------------------------------------------------------------


def test_a_change_moving_the_entity_is_instructed_and_applied_by_the_new_caisse(app, db):
    org = factories.organization(db, name="MAROSE FORMATION")  # Strasbourg, Alsace-Moselle
    manager = factories.person(db, email="romain@exemple.fr")
    manager_grant = factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    cramif_fund = factories.fund(db, "CRAMIF")
    change = OrganizationChange(
        organization_id=org.id,
        requested_by_id=manager.id,
        changes={"address": "40 boulevard Voltaire", "postal_code": "75011", "city": "PARIS"},
        fund_id=cramif_fund.id,
    )
    db.add(change)
    alsace, alsace_grant = instructor(db)
    cramif, cramif_grant = instructor(db, "CRAMIF")
    db.commit()
    page = f"/instruction/modifications/{change.id}"

    old_caisse = logged_in(app, alsace, alsace_grant)
    assert old_caisse.get(page).status_code == 404
    assert "MAROSE FORMATION" not in old_caisse.get("/instruction/demandes").get_data(as_text=True)

    new_caisse = logged_in(app, cramif, cramif_grant)
    queue = new_caisse.get("/instruction/demandes?departement=75").get_data(as_text=True)
    assert "MAROSE FORMATION" in queue and f'href="{page}"' in queue
    shown = new_caisse.get(page).get_data(as_text=True)
    assert "40 boulevard Voltaire" in shown and "1 rue Test" in shown
    assert "une fois acceptée, l'entité passe à Cramif" in shown
    assert post(new_caisse, f"{page}/accepter", page, version="1").status_code == 302

    db.expire_all()
    org = db.get(Organization, org.id)
    assert (org.postal_code, org.city, org.department_code) == ("75011", "PARIS", "75")
    assert org.fund_id == cramif_fund.id
    assert db.get(OrganizationChange, change.id).status == OrganizationChangeStatus.ACCEPTED
    task = db.exec(select(Notification).where(Notification.person_id == manager.id)).one()
    assert task.role_grant_id == manager_grant.id and "acceptée" in task.title
    # a second accept with the same version: already decided, nothing more written
    again = post(new_caisse, f"{page}/accepter", page, version="1")
    assert again.status_code == 409 and "déjà été décidée" in again.get_data(as_text=True)


def test_refusing_a_change_needs_a_comment_and_leaves_the_entity(app, db):
    org = factories.organization(db, name="MAROSE FORMATION")
    manager = factories.person(db)
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    change = OrganizationChange(
        organization_id=org.id,
        requested_by_id=manager.id,
        changes={"name": "MAROSE"},
        fund_id=org.fund_id,
    )
    db.add(change)
    alsace, grant = instructor(db)
    db.commit()
    client = logged_in(app, alsace, grant)
    page = f"/instruction/modifications/{change.id}"
    empty = post(client, f"{page}/refuser", page, version="1", comment="")
    assert empty.status_code == 422 and "Expliquez dans le commentaire" in empty.get_data(
        as_text=True
    )
    assert (
        post(client, f"{page}/refuser", page, version="1", comment="Kbis manquant").status_code
        == 302
    )
    db.expire_all()
    assert db.get(Organization, org.id).name == "MAROSE FORMATION"
    decided = db.get(OrganizationChange, change.id)
    assert (decided.status, decided.comment) == (OrganizationChangeStatus.REFUSED, "Kbis manquant")
    task = db.exec(select(Notification).where(Notification.person_id == manager.id)).one()
    assert "Kbis manquant" in task.title


def test_an_accepted_attestation_replaces_the_entitys_and_is_viewable_before(app, db):
    org = factories.organization(db, name="MAROSE FORMATION")
    manager = factories.person(db)
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    new_file = get_storage().save(
        db, name="attestation-2026.pdf", content_type="application/pdf", data=PDF
    )
    change = OrganizationChange(
        organization_id=org.id,
        requested_by_id=manager.id,
        changes={"urssaf_issued_on": "2026-10-01"},
        urssaf_file_id=new_file.id,
        fund_id=org.fund_id,
    )
    db.add(change)
    alsace, grant = instructor(db)
    db.commit()
    client = logged_in(app, alsace, grant)
    page = f"/instruction/modifications/{change.id}"
    shown = client.get(page).get_data(as_text=True)
    assert "01/10/2026" in shown and f'href="{page}/attestation"' in shown
    download = client.get(f"{page}/attestation")
    assert download.data == PDF and download.headers["X-Content-Type-Options"] == "nosniff"

    assert post(client, f"{page}/accepter", page, version="1").status_code == 302
    db.expire_all()
    org = db.get(Organization, org.id)
    assert org.urssaf_file_id == new_file.id
    assert org.urssaf_issued_on.date().isoformat() == "2026-10-01"


@pytest.mark.skipif(not is_postgres(), reason="SQLite runs one write at a time")
def test_a_code_taken_while_validating_gives_the_next_one(app, db):
    """Another transaction holds the next code while the instructor validates: once it
    commits, the validation takes the code after it instead of failing."""
    from sqlalchemy import update
    from sqlmodel import Session

    holder = factories.organization(db, name="DÉJÀ VALIDÉE")
    org = submitted_request(db)
    person, grant = instructor(db)
    db.commit()
    taken = f"{int(db.exec(select(func.max(Organization.code))).one()) + 1:05d}"
    client = logged_in(app, person, grant)
    page = f"/instruction/entites/{org.id}"
    token = csrf_token(client, page)
    with Session(app.extensions["forprev_engine"]) as other:
        other.exec(update(Organization).where(Organization.id == holder.id).values(code=taken))
        answer = {}
        thread = threading.Thread(
            target=lambda: answer.update(
                r=client.post(f"{page}/valider", data={"csrf_token": token, "version": "1"})
            )
        )
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting on the code the other transaction holds
        other.commit()
    thread.join(timeout=20)
    assert answer["r"].status_code == 302
    db.expire_all()
    assert db.get(Organization, org.id).code == f"{int(taken) + 1:05d}"
