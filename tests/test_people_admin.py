""" "Personnes": search by each key (accents and case ignored), the instructor's region,
the person's page, identity correction (audited, mailed, 409 on a stale form),
deactivation (login refused with its message, login sessions ended) and merge (everything
moves, refusals with their message, nothing written by a refused merge)."""

import html as html_lib
import re
import threading
from datetime import date

import pytest
import redis
from sqlalchemy import event, func
from sqlmodel import Session, select

from app.clock import utcnow
from app.domain import people_admin as people
from app.domain.access import grants_of
from app.domain.passwords import hash_password
from app.domain.storage import get_storage
from app.domain.trainer_check import find_person_by_identity
from app.models import (
    AuditEvent,
    Certificate,
    CertificateModel,
    CertSession,
    Delegation,
    Notification,
    OutboxEmail,
    Person,
    Qualification,
    RoleGrant,
    StoredFile,
)
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token, is_postgres

COOKIE = "forprev_session"


@pytest.fixture
def w(db):
    """An administrator, the Alsace-Moselle caisse's instructor, and people inside and
    outside its region."""

    class World:
        pass

    w = World()
    alsace, cramif = factories.fund(db, "ALSACE-MOSELLE"), factories.fund(db, "CRAMIF")
    w.admin = factories.person(db, first_name="Anne", last_name="ADMIN")
    w.admin_grant = factories.grant(db, w.admin, Role.ADMINISTRATEUR)
    w.instructor = factories.person(db, first_name="Iris", last_name="INSTRUCTRICE")
    factories.grant(db, w.instructor, Role.INSTRUCTEUR, fund_=alsace)
    w.org = factories.organization(db, name="FORMA EST")  # Alsace-Moselle
    w.paris_org = factories.organization(
        db, name="FORMA PARIS", postal_code="75001", fund_code="CRAMIF"
    )
    w.helene = factories.person(
        db,
        first_name="Hélène",
        last_name="LEFÈVRE",
        email="helene.lefevre@exemple.fr",
        forprev_number="JKA37899",
        birth_date=date(1980, 3, 12),
    )
    factories.grant(db, w.helene, Role.GESTIONNAIRE, organization=w.org)
    w.paul = factories.person(
        db, first_name="Paul", last_name="MARTIN", birth_date=date(1980, 3, 12)
    )
    factories.grant(db, w.paul, Role.GESTIONNAIRE, organization=w.paris_org)
    w.trainer = factories.person(
        db, first_name="Tom", last_name="FORMATEUR", trainer_fund_id=alsace.id
    )
    factories.grant(db, w.trainer, Role.FORMATEUR)
    w.alsace, w.cramif = alsace, cramif
    db.commit()
    return w


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _results(client, query: str) -> str:
    response = client.get("/personnes/", query_string={"q": query})
    assert response.status_code == 200
    return _text(response)


def _listed(page: str) -> set[str]:
    """The people a results table shows, by Forprev number."""
    return set(re.findall(r'<td class="nowrap">([A-Z]{3}\d{5})</td>', page))


# --- search -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["lefevre", "LEFÈVRE", "Lefèvre hélène", "helene", "JKA378", "jka37899", "lefevre@exemple"],
)
def test_a_person_is_found_by_any_part_of_each_key(w, login_as, query):
    found = _listed(_results(login_as(w.admin), query))
    assert found == {"JKA37899"}


def test_a_birth_date_finds_everyone_born_that_day(w, login_as):
    client = login_as(w.admin)
    found = _listed(_results(client, "12/03/1980"))
    assert found == {"JKA37899", w.paul.forprev_number}
    # with a name too, both must match
    assert _listed(_results(client, "martin 12/03/1980")) == {w.paul.forprev_number}
    # no one born the day before
    assert _listed(_results(client, "11/03/1980")) == set()


def test_the_list_shows_each_person_s_roles_and_is_ordered_by_name(w, login_as):
    page = _results(login_as(w.admin), "")
    assert "Gestionnaire — FORMA EST" in page
    assert "Instructeur — " in page
    names = re.findall(r'person_id=|/personnes/\d+">([^<]+)</a>', page)
    names = [n for n in names if n]
    assert names == sorted(names)
    assert names[0].startswith("ADMIN") and "LEFÈVRE Hélène" in names


def test_live_search_answers_the_results_alone(w, login_as):
    client = login_as(w.admin)
    response = client.get("/personnes/?q=lefevre", headers={"HX-Request": "true"})
    body = _text(response)
    assert response.status_code == 200 and "<html" not in body
    assert _listed(body) == {"JKA37899"}
    assert "HX-Request" in response.headers["Vary"]
    # the full page carries the live search wired to the same address
    page = _text(client.get("/personnes/?q=lefevre"))
    assert 'data-hx-get="/personnes/"' in page and 'data-hx-push-url="true"' in page
    assert 'value="lefevre"' in page


def test_a_page_of_the_list_costs_the_same_whatever_its_length(app, db, w, login_as):
    client = login_as(w.admin)

    def statements() -> int:
        engine = app.extensions["forprev_engine"]
        seen = []

        def count(*_args):
            seen.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/personnes/?q=dupont").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    for _n in range(2):
        factories.grant(
            db, factories.person(db, last_name="DUPONT"), Role.GESTIONNAIRE, organization=w.org
        )
    db.commit()
    few = statements()
    for _n in range(8):
        extra = factories.person(db, last_name="DUPONT")
        factories.grant(db, extra, Role.GESTIONNAIRE, organization=w.org)
        factories.grant(db, extra, Role.FORMATEUR)
    db.commit()
    assert statements() == few


def test_an_instructor_sees_only_the_caisse_s_region(w, login_as, auth):
    client = login_as(w.instructor)
    everyone = _listed(_results(client, ""))
    assert "JKA37899" in everyone  # gestionnaire of an entity of the caisse
    assert w.trainer.forprev_number in everyone  # a trainer the caisse follows
    assert w.instructor.forprev_number in everyone  # the caisse's own instructor
    assert w.paul.forprev_number not in everyone  # an entity of another caisse
    assert w.admin.forprev_number not in everyone
    assert _listed(_results(client, "martin")) == set()
    assert client.get(f"/personnes/{w.paul.id}").status_code == 404
    assert (
        client.post(
            f"/personnes/{w.paul.id}/desactivation", data={"csrf_token": csrf_token(client, "/")}
        ).status_code
        == 404
    )
    page = client.get(f"/personnes/{w.helene.id}")
    assert page.status_code == 200 and "Gestionnaire — FORMA EST" in _text(page)
    # the administrator sees Paul
    auth.logout()
    assert w.paul.forprev_number in _listed(_results(login_as(w.admin), "martin"))


def test_who_may_reach_personnes(w, login_as, auth):
    assert login_as(w.helene).get("/personnes/").status_code == 403
    auth.logout()
    instructor = login_as(w.instructor)
    assert instructor.get(f"/personnes/{w.helene.id}/fusion").status_code == 403


# --- the person's page --------------------------------------------------------------------


def test_the_page_lists_certificates_qualifications_and_sessions(db, w, login_as):
    cert = factories.trainer_certificate(db, w.trainer, scheme_code="SST", level=2)
    model = db.get(CertificateModel, cert.certificate_model_id)
    db.add(
        Qualification(
            person_id=w.trainer.id,
            certificate_model_id=model.id,
            valid_from=date(2020, 1, 1),
            valid_until=date(2030, 1, 1),
            source="import",
        )
    )
    acc = factories.accreditation(db, w.org)
    factories.closed_session(
        db, org=w.org, acc=acc, trainer=w.trainer, creator=w.helene, trainees=[]
    )
    db.commit()
    page = _text(login_as(w.admin).get(f"/personnes/{w.trainer.id}"))
    assert cert.number in page and model.name in page
    assert "du 01/01/2020 au 01/01/2030" in page and "Reprise des données" in page
    assert "Aucun fichier" in page
    assert "FORMA EST" in page and "Clôturée" in page
    assert "Formateur" in page
    assert w.trainer.forprev_number in page and w.trainer.email in page
    # its documents and withdrawal are one link away
    assert "Documents et retrait des qualifications" in page


def test_the_add_qualification_link_follows_the_endpoint(app, w, login_as):
    page = _text(login_as(w.admin).get(f"/personnes/{w.trainer.id}"))
    expected = "qualifications.new" in app.view_functions
    assert ("Ajouter une qualification" in page) is expected


# --- identity -------------------------------------------------------------------------------


def _identity(client, person_id, *, seen=("LEFÈVRE", "Hélène", "1980-03-12"), **values):
    data = {
        "csrf_token": csrf_token(client, f"/personnes/{person_id}"),
        "last_name": "Lefebvre",
        "first_name": "Hélène",
        "birth_date": "13/03/1980",
        "was_last_name": seen[0],
        "was_first_name": seen[1],
        "was_birth_date": seen[2],
    }
    data.update(values)
    return client.post(f"/personnes/{person_id}/identite", data=data)


def test_an_identity_correction_is_audited_and_mailed(db, w, login_as):
    client = login_as(w.instructor)
    page = _text(client.get(f"/personnes/{w.helene.id}"))
    assert 'name="was_last_name" type="hidden" value="LEFÈVRE"' in page
    response = _identity(client, w.helene.id)
    assert response.status_code == 302
    db.refresh(w.helene)
    assert (w.helene.last_name, w.helene.birth_date) == ("LEFEBVRE", date(1980, 3, 13))
    # searched by the new name at once
    assert _listed(_results(client, "lefebvre")) == {"JKA37899"}
    event_ = db.exec(
        select(AuditEvent).where(AuditEvent.action == "person.identity_corrected")
    ).one()
    assert event_.object_id == w.helene.id and event_.actor_id == w.instructor.id
    assert event_.data["avant"]["nom"] == "LEFÈVRE" and event_.data["après"]["nom"] == "LEFEBVRE"
    assert event_.data["après"]["date_de_naissance"] == "1980-03-13"
    mail = db.exec(select(OutboxEmail).where(OutboxEmail.person_id == w.helene.id)).one()
    assert mail.to_address == "helene.lefevre@exemple.fr"
    assert mail.subject == "Forprev : votre identité a été corrigée"
    assert "nom : LEFÈVRE → LEFEBVRE" in mail.text_body
    assert "date de naissance : 12/03/1980 → 13/03/1980" in mail.text_body
    assert "LEFEBVRE" in mail.html_body


def test_a_stale_identity_form_is_a_conflict_and_changes_nothing(db, w, login_as):
    client = login_as(w.admin)
    response = _identity(client, w.helene.id, seen=("LEFEVRE", "Hélène", "1980-03-12"))
    assert response.status_code == 409
    assert "Quelqu'un a modifié l'identité de cette personne" in _text(response)
    # the form shown again carries the identity as it is now
    assert 'name="was_last_name" type="hidden" value="LEFÈVRE"' in _text(response)
    db.refresh(w.helene)
    assert w.helene.last_name == "LEFÈVRE" and w.helene.birth_date == date(1980, 3, 12)
    assert db.exec(select(func.count()).select_from(OutboxEmail)).one() == 0
    assert (
        db.exec(select(func.count()).where(AuditEvent.action == "person.identity_corrected")).one()
        == 0
    )


def test_a_damaged_seen_identity_is_a_conflict_with_its_message(db, w, login_as):
    """The hidden identity the form showed, come back with a line break (refused by every
    one-line field): not what anyone saw, so a conflict saying to reload, not a 422 with no
    message."""
    client = login_as(w.admin)
    response = _identity(client, w.helene.id, seen=("\r", "Hélène", "1980-03-12"))
    assert response.status_code == 409
    assert "Quelqu'un a modifié l'identité de cette personne" in _text(response)
    db.refresh(w.helene)
    assert w.helene.last_name == "LEFÈVRE"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"birth_date": "31/02/1980"}, "birth_date", "Saisissez une date valide"),
        (
            {"birth_date": "01/01/2090"},
            "birth_date",
            "La date de naissance doit être dans le passé.",
        ),
        ({"last_name": ""}, "last_name", "Saisissez le nom."),
        ({"first_name": "Jean2"}, "first_name", "Le prénom ne peut contenir que des lettres"),
    ],
)
def test_a_bad_identity_is_refused_next_to_its_field(db, w, login_as, values, field, message):
    response = _identity(login_as(w.admin), w.helene.id, **values)
    assert response.status_code == 422
    page = _text(response)
    assert re.search(f'id="{field}-erreur" role="alert">{re.escape(message)}', page)
    assert 'value="Lefebvre"' in page or field == "last_name"  # what was typed is kept
    db.refresh(w.helene)
    assert w.helene.last_name == "LEFÈVRE"
    assert db.exec(select(func.count()).select_from(OutboxEmail)).one() == 0


# --- deactivation ---------------------------------------------------------------------------


def _logged_in(app, person):
    client = app.test_client()
    answer = client.post(
        "/connexion",
        data={
            "identifier": person.email,
            "password": factories.PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def _login_page(app, identifier, password=factories.PASSWORD) -> tuple[int, str]:
    client = app.test_client()
    answer = client.post(
        "/connexion",
        data={"identifier": identifier, "password": password, "csrf_token": csrf_token(client)},
    )
    return answer.status_code, _text(answer)


def test_a_deactivated_account_cannot_log_in_and_its_sessions_end(app, db, w, login_as):
    cert = factories.trainer_certificate(db, w.helene)
    db.commit()
    helene = _logged_in(app, w.helene)
    assert helene.get("/mon-compte").status_code == 200
    logins = redis.Redis.from_url(app.config["REDIS_URL"])
    assert logins.zcard(f"forprev:logins:{w.helene.id}") == 1

    admin = login_as(w.admin)
    response = admin.post(
        f"/personnes/{w.helene.id}/desactivation",
        data={"csrf_token": csrf_token(admin, f"/personnes/{w.helene.id}")},
    )
    assert response.status_code == 302
    db.refresh(w.helene)
    assert w.helene.active is False and w.helene.deactivated_at is not None
    assert logins.zcard(f"forprev:logins:{w.helene.id}") == 0
    assert helene.get("/mon-compte").location.startswith("/connexion")
    # refused with its message through the login form, by e-mail or Forprev number
    for identifier in (w.helene.email, "JKA37899"):
        status, page = _login_page(app, identifier)
        assert status == 422 and "Ce compte a été désactivé. Contactez l'assistance." in page
        assert "Identifiant ou mot de passe incorrect." not in page
    # a wrong password learns nothing
    status, page = _login_page(app, w.helene.email, "Mauvais-mdp-1")
    assert "désactivé" not in page and "Identifiant ou mot de passe incorrect." in page
    # nothing of hers is deleted
    assert db.get(Certificate, cert.id).person_id == w.helene.id
    assert db.exec(select(RoleGrant).where(RoleGrant.person_id == w.helene.id)).one().active
    assert _text(admin.get(f"/personnes/{w.helene.id}")).count("Désactivé") >= 1
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "person.deactivated")).one()
    assert audit.object_id == w.helene.id and audit.actor_id == w.admin.id

    # reactivated, she logs in again
    response = admin.post(
        f"/personnes/{w.helene.id}/reactivation",
        data={"csrf_token": csrf_token(admin, f"/personnes/{w.helene.id}")},
    )
    assert response.status_code == 302
    assert _logged_in(app, w.helene).get("/mon-compte").status_code == 200


def test_no_one_deactivates_their_own_account(db, w, login_as):
    admin = login_as(w.admin)
    response = admin.post(
        f"/personnes/{w.admin.id}/desactivation",
        data={"csrf_token": csrf_token(admin, f"/personnes/{w.admin.id}")},
    )
    assert response.status_code == 422
    assert "Vous ne pouvez pas désactiver votre propre compte." in _text(response)
    db.refresh(w.admin)
    assert w.admin.active and w.admin.deactivated_at is None


# --- merge ------------------------------------------------------------------------------------


@pytest.fixture
def dup(db, w):
    """A second record of Hélène: two certificates, a qualification, a session run, roles,
    a task."""
    d = factories.person(
        db,
        first_name="Helene",
        last_name="LEFEVRE",
        email="h.lefevre@ailleurs.fr",
        forprev_number="DUP00001",
        birth_date=date(1980, 3, 12),
    )
    factories.grant(db, d, Role.FORMATEUR)
    other_org = factories.organization(db, name="AUTRE ENTITÉ")
    factories.grant(db, d, Role.GESTIONNAIRE, organization=other_org)
    c1 = factories.trainer_certificate(db, d, scheme_code="SST", level=2)
    factories.trainer_certificate(db, d, scheme_code="PRAP-IBC", level=2)
    db.add(
        Qualification(
            person_id=d.id,
            certificate_model_id=c1.certificate_model_id,
            valid_from=date(2019, 1, 1),
            valid_until=date(2029, 1, 1),
        )
    )
    acc = factories.accreditation(db, w.org)
    factories.closed_session(db, org=w.org, acc=acc, trainer=d, creator=w.helene, trainees=[])
    db.add(Notification(person_id=d.id, kind="test", title="Une tâche", link="/"))
    factories.trainer_certificate(db, w.helene)
    db.commit()
    return d


def _counts(db, person_id):
    return {
        "certificates": db.exec(
            select(func.count()).where(Certificate.person_id == person_id)
        ).one(),
        "grants": db.exec(select(func.count()).where(RoleGrant.person_id == person_id)).one(),
        "qualifications": db.exec(
            select(func.count()).where(Qualification.person_id == person_id)
        ).one(),
        "sessions": db.exec(select(func.count()).where(CertSession.trainer_id == person_id)).one(),
        "tasks": db.exec(select(func.count()).where(Notification.person_id == person_id)).one(),
    }


def _confirm(client, kept_id, number, **choices):
    data = {
        "csrf_token": csrf_token(client, f"/personnes/{kept_id}/fusion"),
        "duplicate_number": number,
        **choices,
    }
    return client.post(f"/personnes/{kept_id}/fusion", data=data)


def test_a_merge_moves_everything_to_the_kept_person(app, db, w, dup, login_as):
    kept_before, dup_before = _counts(db, w.helene.id), _counts(db, dup.id)
    old_email, old_version = dup.email, dup.auth_version
    client = login_as(w.admin)
    preview = client.get(f"/personnes/{w.helene.id}/fusion", query_string={"doublon": "dup00001"})
    assert preview.status_code == 200
    text = _text(preview)
    assert "Certificats délivrés : 2" in text
    assert "Qualifications enregistrées : 1" in text
    assert "Sessions animées comme formateur : 1" in text
    assert "Rôle : Gestionnaire — AUTRE ENTITÉ" in text and "Rôle : Formateur" in text
    assert "h.lefevre@ailleurs.fr (libérée par la fusion)" in text
    # the preview changed nothing
    assert _counts(db, dup.id) == dup_before

    response = _confirm(client, w.helene.id, "DUP00001")
    assert response.status_code == 302
    db.expire_all()
    after = _counts(db, w.helene.id)
    for key in kept_before:
        assert after[key] == kept_before[key] + dup_before[key], key
    assert _counts(db, dup.id) == {k: 0 for k in dup_before}
    roles = {
        (g.role, g.organization_id)
        for g in db.exec(select(RoleGrant).where(RoleGrant.person_id == w.helene.id))
    }
    assert (Role.FORMATEUR, None) in roles and (Role.GESTIONNAIRE, w.org.id) in roles
    merged = db.get(Person, dup.id)
    assert merged.merged_into_id == w.helene.id and merged.active is False
    assert merged.deactivated_at is not None and merged.auth_version == old_version + 1
    assert (
        merged.email == f"fusion-{dup.id}@invalid.forprev" and merged.forprev_number == "DUP00001"
    )
    # the old address is free again
    assert db.exec(select(Person).where(Person.email == old_email)).first() is None
    actions = {
        (e.action, e.object_id)
        for e in db.exec(select(AuditEvent).where(AuditEvent.action.startswith("person.merge")))
    }
    assert actions == {("person.merged", w.helene.id), ("person.merged_into", dup.id)}

    # the duplicate's number finds the kept person, in the search and the trainer check
    assert _listed(_results(client, "DUP00001")) == {"JKA37899"}
    assert _listed(_results(client, "lefevre")) == {"JKA37899"}
    assert find_person_by_identity(db, forprev_number="DUP00001").id == w.helene.id
    # the merged record's page says where it went
    page = _text(client.get(f"/personnes/{dup.id}"))
    assert "Cette fiche a été fusionnée dans celle de" in page and "Désactiver" not in page
    # its old login is refused with the message
    status, text = _login_page(app, "DUP00001")
    assert "Ce compte a été désactivé." in text


def test_the_same_role_in_the_same_entity_needs_a_choice(db, w, dup, login_as):
    """Both are gestionnaire of FORMA EST: refused until the form says which grant stays;
    the refused merge writes nothing."""
    dup_grant = factories.grant(db, dup, Role.GESTIONNAIRE, organization=w.org)
    kept_grant = db.exec(
        select(RoleGrant).where(
            RoleGrant.person_id == w.helene.id, RoleGrant.organization_id == w.org.id
        )
    ).one()
    db.add(
        Notification(person_id=dup.id, role_grant_id=dup_grant.id, kind="t", title="T", link="/")
    )
    db.commit()
    kept_grant_id, dup_grant_id = kept_grant.id, dup_grant.id
    kept_before, dup_before = _counts(db, w.helene.id), _counts(db, dup.id)
    audits = db.exec(select(func.count()).select_from(AuditEvent)).one()
    client = login_as(w.admin)

    preview = _text(client.get(f"/personnes/{w.helene.id}/fusion?doublon=DUP00001"))
    assert f'name="role_{dup_grant.id}"' in preview
    assert "Les deux fiches ont le rôle « Gestionnaire — FORMA EST » : lequel garder ?" in preview

    refused = _confirm(client, w.helene.id, "DUP00001")
    assert refused.status_code == 422
    assert re.search(
        f'id="role_{dup_grant.id}-erreur" role="alert">Les deux fiches ont le rôle '
        "« Gestionnaire — FORMA EST » : choisissez celui à garder.",
        _text(refused),
    )
    db.expire_all()
    assert _counts(db, w.helene.id) == kept_before and _counts(db, dup.id) == dup_before
    assert db.get(Person, dup.id).merged_into_id is None
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == audits

    # the duplicate's grant is kept: the kept person's goes, its tasks follow
    done = _confirm(client, w.helene.id, "DUP00001", **{f"role_{dup_grant.id}": "doublon"})
    assert done.status_code == 302
    db.expire_all()
    assert db.get(RoleGrant, kept_grant_id) is None
    assert db.get(RoleGrant, dup_grant_id).person_id == w.helene.id
    assert _counts(db, w.helene.id)["grants"] == kept_before["grants"] + dup_before["grants"] - 1
    assert (
        db.exec(select(func.count()).where(Notification.role_grant_id == dup_grant_id)).one() == 1
    )


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("JKA37899", "une fiche ne se fusionne pas avec elle-même"),
        ("XYZ99999", "Aucune personne ne porte ce numéro Forprev."),
        ("12345", "Saisissez le numéro Forprev du doublon : 3 lettres et 5 chiffres"),
        ("MERGED01", "déjà été fusionné"),
        ("MINE", "C'est votre propre fiche : elle ne peut pas être le doublon."),
    ],
)
def test_a_merge_is_refused_with_its_message(db, w, dup, login_as, number, message):
    if number == "MERGED01":
        merged = factories.person(db, forprev_number="MRG00001")
        merged.merged_into_id = w.paul.id
        db.add(merged)
        db.commit()
        number = "MRG00001"
    if number == "MINE":
        number = w.admin.forprev_number
    client = login_as(w.admin)
    preview = client.get(f"/personnes/{w.helene.id}/fusion", query_string={"doublon": number})
    assert preview.status_code == 422
    assert re.search(f'id="doublon-erreur" role="alert">[^<]*{re.escape(message)}', _text(preview))
    before = _counts(db, w.helene.id)
    confirmed = _confirm(client, w.helene.id, number)
    assert confirmed.status_code == 422 and message in _text(confirmed)
    db.expire_all()
    assert _counts(db, w.helene.id) == before
    assert db.exec(select(func.count()).where(AuditEvent.action == "person.merged")).one() == 0


def test_every_column_pointing_at_a_person_is_merged_or_kept_on_purpose():
    """A new table pointing at a person is merged under a name the preview can say."""
    for table, column in people.person_links():
        key = (table.name, column.name)
        assert key in people.MOVED_LABELS or key in people.STAYS, key


def test_an_instructor_leaves_the_back_office_s_accounts_to_the_administrators(db, w, login_as):
    colleague = factories.person(db, first_name="Carl", last_name="COLLEGUE")
    factories.grant(db, colleague, Role.INSTRUCTEUR, fund_=w.alsace)
    db.commit()
    client = login_as(w.instructor)
    page = _text(client.get(f"/personnes/{colleague.id}"))
    assert "Désactiver le compte" not in page and "Corriger l'identité" not in page
    assert people.ADMIN_ONLY in page
    response = client.post(
        f"/personnes/{colleague.id}/desactivation",
        data={"csrf_token": csrf_token(client, f"/personnes/{w.helene.id}")},
    )
    assert response.status_code == 422 and people.ADMIN_ONLY in _text(response)
    db.refresh(colleague)
    assert colleague.active and colleague.deactivated_at is None


def test_a_merge_writes_only_in_the_caller_s_transaction(app, db, w, dup):
    """Every write of a merge waits for the one commit: rolled back, nothing of it stays."""
    kept_before, dup_before = _counts(db, w.helene.id), _counts(db, dup.id)
    with app.test_request_context():
        role = grants_of(db, w.admin.id)[0]
        moved = people.merge(db, role, w.helene, dup, {})
        assert moved["Certificats délivrés"] == 2 and moved["Rôles"] == 2
        db.rollback()
    db.expire_all()
    assert _counts(db, w.helene.id) == kept_before and _counts(db, dup.id) == dup_before
    assert db.get(Person, dup.id).merged_into_id is None
    assert db.get(Person, dup.id).email == "h.lefevre@ailleurs.fr"
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == 0


def test_a_qualification_both_records_hold_is_kept_once(db, w, dup, login_as):
    same = db.exec(select(Qualification).where(Qualification.person_id == dup.id)).one()
    db.add(
        Qualification(
            person_id=w.helene.id,
            certificate_model_id=same.certificate_model_id,
            valid_from=same.valid_from,
            valid_until=same.valid_until,
        )
    )
    db.commit()
    client = login_as(w.admin)
    preview = _text(client.get(f"/personnes/{w.helene.id}/fusion?doublon=DUP00001"))
    assert "Déjà présent dans les deux fiches" in preview
    assert "Qualifications enregistrées : 1" in preview.split("Déjà présent")[1]
    assert _confirm(client, w.helene.id, "DUP00001").status_code == 302
    db.expire_all()
    assert _counts(db, w.helene.id)["qualifications"] == 1
    assert _counts(db, w.helene.id)["certificates"] == 3


# --- what both records hold, what the kept record lacks, merges at the same time ------------


@pytest.mark.parametrize(
    ("kept_revoked", "dup_revoked", "active_after", "outcome"),
    [
        (
            True,
            False,
            True,
            "retirée dans la fiche gardée mais active dans le doublon : elle redevient active",
        ),
        (
            False,
            True,
            True,
            "déjà active dans la fiche gardée : celle du doublon n'est pas reprise",
        ),
        (
            False,
            False,
            True,
            "déjà active dans la fiche gardée : celle du doublon n'est pas reprise",
        ),
        (True, True, False, "retirée dans les deux fiches : elle le reste"),
    ],
    ids=["kept-revoked", "duplicate-revoked", "both-active", "both-revoked"],
)
def test_a_delegation_both_records_hold_stays_active_if_either_is(
    db, w, dup, login_as, kept_revoked, dup_revoked, active_after, outcome
):
    """The kept record's délégation on an habilitation was withdrawn, the duplicate's is
    active: the délégataire keeps the habilitation."""
    acc = factories.accreditation(db, factories.organization(db, name="DÉLÉGUANTE"))
    revoked = utcnow()
    kept_row = Delegation(
        person_id=w.helene.id, accreditation_id=acc.id, revoked_at=revoked if kept_revoked else None
    )
    db.add(kept_row)
    db.add(
        Delegation(
            person_id=dup.id, accreditation_id=acc.id, revoked_at=revoked if dup_revoked else None
        )
    )
    db.commit()
    client = login_as(w.admin)
    preview = _text(client.get(f"/personnes/{w.helene.id}/fusion?doublon=DUP00001"))
    assert f"Délégations d'habilitation : 1 — {outcome}" in preview.split("Déjà présent")[1]
    assert _confirm(client, w.helene.id, "DUP00001").status_code == 302
    db.expire_all()
    rows = db.exec(select(Delegation).where(Delegation.accreditation_id == acc.id)).all()
    assert [(r.id, r.person_id) for r in rows] == [(kept_row.id, w.helene.id)]
    assert (rows[0].revoked_at is None) is active_after
    merged = db.exec(select(AuditEvent).where(AuditEvent.action == "person.merged")).one()
    assert merged.data["tenu_par_les_deux"][0]["table"] == "delegation"


def _pdf(db, name: str) -> int:
    return (
        get_storage()
        .save(db, name=name, content_type="application/pdf", data=b"%PDF-1.4 " + name.encode())
        .id
    )


@pytest.mark.parametrize(
    ("kept", "duplicate", "after", "deleted", "outcome"),
    [
        # same end: the kept one stays and takes the duplicate's file
        (
            (2029, None),
            (2029, "D"),
            (2029, "D"),
            None,
            "celle de la fiche gardée reste, avec le fichier du doublon",
        ),
        # the duplicate's ends later: it stays, with the kept one's file
        (
            (2027, "K"),
            (2031, None),
            (2031, "K"),
            None,
            "celle du doublon, valable plus longtemps, remplace celle de la fiche gardée, "
            "avec le fichier de celle-ci",
        ),
        # each has its file: the one of the qualification that stays, the other deleted
        (
            (2027, "K"),
            (2031, "D"),
            (2031, "D"),
            "K",
            "celle du doublon, valable plus longtemps, remplace celle de la fiche gardée ; "
            "l'autre fichier est supprimé",
        ),
        (
            (2031, "K"),
            (2027, "D"),
            (2031, "K"),
            "D",
            "celle de la fiche gardée reste ; l'autre fichier est supprimé",
        ),
        # the other file is used elsewhere (the same file, another person's qualification)
        ((2031, "K"), (2027, "K"), (2031, "K"), None, "celle de la fiche gardée reste"),
        ((2031, "K"), (2027, "P"), (2031, "K"), None, "celle de la fiche gardée reste"),
    ],
    ids=[
        "file-taken",
        "later-end-takes-file",
        "later-end-file-kept",
        "kept-later-file-kept",
        "same-file",
        "file-used-elsewhere",
    ],
)
def test_a_qualification_both_hold_keeps_the_later_end_and_a_file(
    db, w, dup, login_as, kept, duplicate, after, deleted, outcome
):
    dup_row = db.exec(select(Qualification).where(Qualification.person_id == dup.id)).one()
    files = {"K": _pdf(db, "k.pdf"), "D": _pdf(db, "d.pdf"), "P": _pdf(db, "p.pdf"), None: None}
    db.add(
        Qualification(
            person_id=w.paul.id,
            certificate_model_id=dup_row.certificate_model_id,
            valid_from=dup_row.valid_from,
            valid_until=date(2030, 1, 1),
            file_id=files["P"],
        )
    )
    db.add(
        Qualification(
            person_id=w.helene.id,
            certificate_model_id=dup_row.certificate_model_id,
            valid_from=dup_row.valid_from,
            valid_until=date(kept[0], 1, 1),
            file_id=files[kept[1]],
        )
    )
    dup_row.valid_until, dup_row.file_id = date(duplicate[0], 1, 1), files[duplicate[1]]
    db.add(dup_row)
    db.commit()
    model_id = dup_row.certificate_model_id
    client = login_as(w.admin)
    preview = _text(client.get(f"/personnes/{w.helene.id}/fusion?doublon=DUP00001"))
    shared = preview.split("Déjà présent")[1]
    assert (
        "Qualifications enregistrées : 1 — la même qualification (même modèle, même début) : "
        f"{outcome}</li>"
    ) in shared
    assert "déjà détenu" not in preview
    assert _confirm(client, w.helene.id, "DUP00001").status_code == 302
    db.expire_all()
    held = db.exec(
        select(Qualification).where(
            Qualification.certificate_model_id == model_id,
            Qualification.person_id.in_([w.helene.id, dup.id]),
        )
    ).all()
    assert [(q.person_id, q.valid_until, q.file_id) for q in held] == [
        (w.helene.id, date(after[0], 1, 1), files[after[1]])
    ]
    for name, file_id in files.items():
        if file_id is not None:
            assert (db.get(StoredFile, file_id) is None) is (name == deleted), name


def test_what_the_kept_record_lacks_is_taken_from_the_duplicate(app, db, w, dup, login_as):
    """The kept record was never activated (no password) and has no birth date; the
    duplicate is a trainer followed by a caisse: after the merge the person logs in with
    the duplicate's password and the caisse's instructors still follow the trainer."""
    helene = w.helene
    helene.password_hash, helene.active, helene.onboarded_at = None, False, None
    helene.birth_date = None
    dup.password_hash = hash_password("Autre-mot-de-passe-2")
    dup.trainer_fund_id = w.cramif.id
    dup.notify_messages = False
    db.add_all([helene, dup])
    db.commit()
    onboarded = dup.onboarded_at
    client = login_as(w.admin)
    preview = _text(client.get(f"/personnes/{helene.id}/fusion?doublon=DUP00001"))
    taken = preview.split("Repris du doublon")[1].split("</ul>")[0]
    assert "Date de naissance : 12/03/1980" in taken
    assert f"Caisse qui suit le formateur : {w.cramif.name}" in taken
    assert "Mot de passe : celui du doublon" in taken
    assert _confirm(client, helene.id, "DUP00001").status_code == 302
    db.expire_all()
    kept = db.get(Person, helene.id)
    assert kept.birth_date == date(1980, 3, 12) and kept.trainer_fund_id == w.cramif.id
    assert kept.active and kept.deactivated_at is None and kept.onboarded_at == onboarded
    assert kept.notify_messages is False
    merged = db.exec(select(AuditEvent).where(AuditEvent.action == "person.merged")).one()
    assert merged.data["repris_du_doublon"] == {
        "date_de_naissance": "1980-03-12",
        "caisse_du_formateur": w.cramif.id,
        "mot_de_passe": "repris",
        "première_connexion": onboarded.isoformat(),
    }
    assert "Autre-mot-de-passe" not in str(merged.data) and kept.password_hash not in str(
        merged.data
    )
    # the person logs in with the duplicate's password, by the kept record's address
    status, _page = _login_page(app, "helene.lefevre@exemple.fr", "Autre-mot-de-passe-2")
    assert status == 302


def test_a_deactivated_kept_record_takes_the_password_but_stays_deactivated(app, db, w, dup):
    helene = w.helene
    helene.password_hash, helene.active, helene.deactivated_at = None, False, utcnow()
    db.add(helene)
    db.commit()
    with app.test_request_context():
        people.merge(db, grants_of(db, w.admin.id)[0], helene, dup, {})
        db.commit()
    db.expire_all()
    kept = db.get(Person, helene.id)
    assert kept.password_hash == db.get(Person, dup.id).password_hash is not None
    assert kept.active is False and kept.deactivated_at is not None


def test_what_the_kept_record_has_is_never_overwritten(db, w, dup, login_as):
    helene = w.helene
    helene.trainer_fund_id = w.alsace.id
    dup.trainer_fund_id, dup.birth_date = w.cramif.id, date(1981, 4, 1)
    dup.password_hash = hash_password("Autre-mot-de-passe-2")
    db.add_all([helene, dup])
    db.commit()
    before = (helene.password_hash, helene.onboarded_at, helene.notify_messages)
    client = login_as(w.admin)
    preview = _text(client.get(f"/personnes/{helene.id}/fusion?doublon=DUP00001"))
    assert "Repris du doublon" not in preview
    assert _confirm(client, helene.id, "DUP00001").status_code == 302
    db.expire_all()
    kept = db.get(Person, helene.id)
    assert kept.birth_date == date(1980, 3, 12) and kept.trainer_fund_id == w.alsace.id
    assert (kept.password_hash, kept.onboarded_at, kept.notify_messages) == before
    merged = db.exec(select(AuditEvent).where(AuditEvent.action == "person.merged")).one()
    assert merged.data["repris_du_doublon"] == {}


@pytest.mark.skipif(not is_postgres(), reason="SQLite runs one write at a time")
def test_crossed_merges_at_the_same_time_leave_one_record_on_postgresql(app, db, w, dup, login_as):
    """One administrator merges Hélène into her duplicate while another merges the
    duplicate into Hélène: the second waits for the first's lock on the two records, then
    is refused; one record stays."""
    client = login_as(w.admin)
    token = csrf_token(client, f"/personnes/{w.helene.id}/fusion")
    answer = {}
    with Session(app.extensions["forprev_engine"]) as other, app.test_request_context():
        role = grants_of(other, w.admin.id)[0]
        people.merge(other, role, other.get(Person, dup.id), other.get(Person, w.helene.id), {})
        thread = threading.Thread(
            target=lambda: answer.update(
                r=client.post(
                    f"/personnes/{w.helene.id}/fusion",
                    data={"csrf_token": token, "duplicate_number": "DUP00001"},
                )
            )
        )
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting on the records the other merge holds
        other.commit()
    thread.join(timeout=20)
    assert answer["r"].status_code == 422
    assert people.MERGED in _text(answer["r"])
    db.expire_all()
    assert db.get(Person, w.helene.id).merged_into_id == dup.id
    assert db.get(Person, dup.id).merged_into_id is None and db.get(Person, dup.id).active
    assert db.exec(select(func.count()).where(AuditEvent.action == "person.merged")).one() == 1
