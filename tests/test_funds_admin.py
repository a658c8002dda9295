"""Caisses (issue 14): the administrator sees every caisse with its departments and
instructors, creates instructor accounts (the 72-hour first-password link) and other
administrators, ends an instructor's role, and moves a department to another caisse —
postal codes typed from then on go there, existing entities keep theirs."""

import html as html_lib
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from app.domain import funds_admin as rules
from app.domain.caisse_routing import fund_for_postal_code
from app.models import (
    AccountToken,
    AuditEvent,
    Department,
    Fund,
    Organization,
    OutboxEmail,
    Person,
    RoleGrant,
)
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def routing(db):
    """The department → caisse table as the reference has it, put back after the test
    (reference tables are not cleaned between tests)."""
    before = {d.code: d.fund_id for d in db.exec(select(Department))}
    try:
        yield before
    finally:
        db.rollback()
        for department in db.exec(select(Department)):
            if department.fund_id != before[department.code]:
                department.fund_id = before[department.code]
                db.add(department)
        db.commit()


@pytest.fixture
def people(db):
    admin = factories.person(db, first_name="Inès", last_name="ROCHE", email="ines@inrs.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    alsace = factories.fund(db, "ALSACE-MOSELLE")
    instructor = factories.person(db, first_name="Luc", last_name="BRUN", email="luc@carsat.fr")
    grant = factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=alsace)
    trainer = factories.person(db, first_name="Paul", last_name="VIDAL", email="paul@ex.fr")
    factories.grant(db, trainer, Role.FORMATEUR)
    db.commit()
    return {
        "admin": admin,
        "instructor": instructor,
        "grant": grant,
        "trainer": trainer,
        "alsace": alsace,
    }


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _error(response, field_id: str) -> str | None:
    match = re.search(
        rf'<p class="error" id="{field_id}-erreur" role="alert">([^<]+)</p>', _text(response)
    )
    return match.group(1) if match else None


def _written(db) -> tuple:
    db.expire_all()
    return (
        db.exec(select(func.count(Person.id))).one(),
        db.exec(select(func.count(RoleGrant.id)).where(RoleGrant.active.is_(True))).one(),
        db.exec(select(func.count(OutboxEmail.id))).one(),
        db.exec(select(func.count(AuditEvent.id))).one(),
        tuple(sorted((d.code, d.fund_id) for d in db.exec(select(Department)))),
    )


def _post(client, url: str, page: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def test_the_list_shows_every_caisse_in_a_fixed_number_of_queries(
    app, client, login_as, db, people
):
    login_as(people["admin"])
    engine = app.extensions["forprev_engine"]
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = _text(client.get("/caisses/"))
        first = len(statements)
        for code in ("BRETAGNE", "CRAMIF", "REUNION"):
            for n in range(3):
                someone = factories.person(db, email=f"{code.lower()}{n}@caisse.fr")
                factories.grant(db, someone, Role.INSTRUCTEUR, fund_=factories.fund(db, code))
        db.commit()
        statements.clear()
        again = _text(client.get("/caisses/"))
        assert len(statements) == first  # no query per caisse or per instructor
    finally:
        event.remove(engine, "before_cursor_execute", count)
    funds = db.exec(select(func.count(Fund.id))).one()
    assert page.count('href="/caisses/') - page.count('href="/caisses/administrateurs') >= funds
    row = re.search(r"Carsat Alsace-Moselle</a></td>\s*<td>([^<]+)</td>\s*<td>(\d+)</td>", page)
    assert row.groups() == ("57, 67, 68", "1")
    corsica = re.search(r"Carsat Sud-Est</a></td>\s*<td>([^<]+)</td>", page)
    assert corsica.group(1) == "04, 05, 06, 13, 2A, 2B, 83, 84"
    assert re.search(r"Cramif \(Île-de-France\)</a></td>\s*<td>[^<]+</td>\s*<td>3</td>", again)


def test_a_new_instructor_gets_an_account_and_the_72_hour_link(client, login_as, db, people):
    fund = people["alsace"]
    login_as(people["admin"])
    page = _text(client.get(f"/caisses/{fund.id}"))
    assert "BRUN Luc" in page and "luc@carsat.fr" in page and "Actif" in page
    assert "57, 67, 68" in page
    assert client.get("/caisses/999999").status_code == 404

    response = _post(
        client,
        f"/caisses/{fund.id}/instructeurs",
        f"/caisses/{fund.id}",
        last_name="Keller",
        first_name="Anne",
        email="Anne.Keller@Carsat-AM.fr",
    )
    assert response.status_code == 302, _text(response)
    db.expire_all()
    person = db.exec(select(Person).where(Person.email == "anne.keller@carsat-am.fr")).one()
    assert (person.last_name, person.first_name, person.active) == ("KELLER", "Anne", False)
    grant = db.exec(select(RoleGrant).where(RoleGrant.person_id == person.id)).one()
    assert (grant.role, grant.fund_id, grant.active) == ("instructeur", fund.id, True)
    mail = db.exec(select(OutboxEmail).where(OutboxEmail.to_address == person.email)).one()
    assert mail.subject == "Forprev : votre compte a été créé"
    assert "valable 72 heures" in mail.text_body and person.forprev_number in mail.text_body
    assert re.search(r"/mot-de-passe/nouveau/[A-Za-z0-9_-]+", mail.text_body)
    token = db.exec(select(AccountToken).where(AccountToken.person_id == person.id)).one()
    assert token.expires_at - token.created_at == timedelta(hours=72)
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "fund.instructor_added")).one()
    assert (audit.actor_id, audit.object_id) == (people["admin"].id, fund.id)
    assert audit.data["person_id"] == person.id and audit.data["created"] is True

    listing = _text(client.get(f"/caisses/{fund.id}"))
    assert "KELLER Anne" in listing and "En attente du mot de passe (lien envoyé)" in listing
    assert "a été envoyé à anne.keller@carsat-am.fr" in listing


def test_a_known_person_gets_the_role_without_a_new_account(client, login_as, db, people):
    fund = factories.fund(db, "BRETAGNE")
    login_as(people["admin"])
    before = _written(db)
    response = _post(
        client,
        f"/caisses/{fund.id}/instructeurs",
        f"/caisses/{fund.id}",
        last_name="Autre",
        first_name="Nom",
        email="PAUL@ex.fr",
    )
    assert response.status_code == 302
    after = _written(db)
    assert after[0] == before[0]  # nobody created
    assert after[2] == before[2]  # they have a password: no link
    roles = db.exec(select(RoleGrant.role).where(RoleGrant.person_id == people["trainer"].id))
    assert sorted(roles) == ["formateur", "instructeur"]
    assert "avait déjà un compte Forprev" in _text(client.get(f"/caisses/{fund.id}"))


@pytest.mark.parametrize(
    ("field", "changes", "message"),
    [
        (
            "email",
            {"email": "anne.keller@"},
            "Saisissez une adresse e-mail valide, par exemple marie.dupont@exemple.fr.",
        ),
        ("email", {"email": ""}, "Saisissez une adresse e-mail."),
        ("email", {"email": "luc@carsat.fr"}, "Luc BRUN est déjà instructeur de cette caisse."),
        ("last_name", {"last_name": ""}, "Saisissez le nom."),
        (
            "first_name",
            {"first_name": "Anne2"},
            "Le prénom ne peut contenir que des lettres, des espaces, des traits d'union et "
            "des apostrophes.",
        ),
    ],
)
def test_bad_instructor_input_is_refused(client, login_as, db, people, field, changes, message):
    fund = people["alsace"]
    login_as(people["admin"])
    before = _written(db)
    data = {"last_name": "Keller", "first_name": "Anne", "email": "anne@carsat.fr", **changes}
    response = _post(client, f"/caisses/{fund.id}/instructeurs", f"/caisses/{fund.id}", **data)
    assert response.status_code == 422
    assert _error(response, field) == message
    assert _written(db) == before
    kept = [v for k, v in data.items() if k != field and v]
    assert all(f'value="{v}"' in _text(response) for v in kept)


def test_the_inline_check_judges_the_field_left(client, login_as, db, people):
    fund = people["alsace"]
    login_as(people["admin"])
    response = _post(
        client,
        f"/caisses/{fund.id}/instructeurs/verifier",
        f"/caisses/{fund.id}",
        last_name="",
        first_name="",
        email="pas-une-adresse",
    )
    assert response.status_code == 422
    assert _error(response, "email").startswith("Saisissez une adresse e-mail valide")
    assert _error(response, "last_name") is None  # not typed yet: not judged


def test_removing_an_instructor_is_audited_and_warns_for_the_last(client, login_as, db, people):
    fund, grant = people["alsace"], people["grant"]
    login_as(people["admin"])
    response = _post(
        client, f"/caisses/{fund.id}/instructeurs/{grant.id}/retirer", f"/caisses/{fund.id}"
    )
    assert response.status_code == 302
    page = _text(client.get(f"/caisses/{fund.id}"))
    assert "Le rôle instructeur est retiré" in page
    assert "Attention : Carsat Alsace-Moselle n'a plus d'instructeur actif." in page
    assert "Rôle retiré" in page
    db.expire_all()
    assert db.get(RoleGrant, grant.id).active is False
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "fund.instructor_removed")).one()
    assert audit.data["person_id"] == people["instructor"].id
    # already removed, or another caisse's role: not found
    again = _post(
        client, f"/caisses/{fund.id}/instructeurs/{grant.id}/retirer", f"/caisses/{fund.id}"
    )
    assert again.status_code == 404
    other = factories.fund(db, "BRETAGNE")
    db.get(RoleGrant, grant.id).active = True
    db.commit()
    elsewhere = _post(
        client, f"/caisses/{other.id}/instructeurs/{grant.id}/retirer", f"/caisses/{other.id}"
    )
    assert elsewhere.status_code == 404


def test_moving_a_department_routes_new_postal_codes_to_the_new_caisse(
    client, login_as, db, people, routing
):
    alsace = people["alsace"]
    nord_est = factories.fund(db, "NORD-EST")
    existing = factories.organization(db, postal_code="57000", fund_code="ALSACE-MOSELLE")
    db.commit()
    assert fund_for_postal_code(db, "57100")[1].id == alsace.id
    login_as(people["admin"])
    page = f"/caisses/{alsace.id}"
    assert "Les entités déjà créées gardent leur caisse actuelle" in _text(client.get(page))

    before = _written(db)
    asked = _post(client, f"{page}/departements", page, department="57", to_fund_id=nord_est.id)
    assert asked.status_code == 200
    summary = _text(asked)
    assert "Le département 57 passera de Carsat Alsace-Moselle à Carsat Nord-Est." in re.sub(
        r"</?strong>", "", summary
    )
    assert _written(db) == before  # shown, not done

    done = _post(
        client,
        f"{page}/departements",
        page,
        department="57",
        to_fund_id=nord_est.id,
        confirm="oui",
    )
    assert done.status_code == 302
    db.expire_all()
    assert fund_for_postal_code(db, "57100")[1].id == nord_est.id
    assert fund_for_postal_code(db, "67000")[1].id == alsace.id
    assert db.get(Organization, existing.id).fund_id == alsace.id
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "fund.department_moved")).one()
    assert (audit.from_state, audit.to_state) == ("ALSACE-MOSELLE", "NORD-EST")
    assert audit.data == {"department": "57", "from_fund_id": alsace.id, "to_fund_id": nord_est.id}
    assert audit.actor_id == people["admin"].id
    shown = _text(client.get(page))
    assert "Le département 57 est désormais rattaché à Carsat Nord-Est" in shown
    assert re.search(r"Départements couverts</h2>\s*<p>67, 68</p>", shown)


@pytest.mark.parametrize(
    ("field", "department", "to_fund", "message"),
    [
        (
            "to_fund_id",
            "57",
            "ALSACE-MOSELLE",
            "Le département 57 est déjà rattaché à Carsat Alsace-Moselle : choisissez une "
            "autre caisse.",
        ),
        ("department", "75", "NORD-EST", rules.DEPARTMENT_UNKNOWN),
        ("department", "", "NORD-EST", rules.DEPARTMENT_UNKNOWN),
        ("to_fund_id", "57", None, rules.FUND_UNKNOWN),
        ("to_fund_id", "57", "999999", rules.FUND_UNKNOWN),
    ],
)
@pytest.mark.parametrize("confirm", ["", "oui"])
def test_a_bad_move_is_refused_and_changes_nothing(
    client, login_as, db, people, routing, field, department, to_fund, message, confirm
):
    alsace = people["alsace"]
    known = to_fund not in (None, "999999")
    target = str(factories.fund(db, to_fund).id) if known else (to_fund or "")
    login_as(people["admin"])
    before = _written(db)
    page = f"/caisses/{alsace.id}"
    response = _post(
        client,
        f"{page}/departements",
        page,
        department=department,
        to_fund_id=target,
        confirm=confirm,
    )
    assert response.status_code == 422
    assert _error(response, field) == message
    assert _written(db) == before


def test_an_administrator_creates_another(client, login_as, db, people):
    login_as(people["admin"])
    page = _text(client.get("/caisses/administrateurs"))
    assert "ROCHE Inès" in page and "BRUN Luc" not in page
    response = _post(
        client,
        "/caisses/administrateurs",
        "/caisses/administrateurs",
        last_name="Morel",
        first_name="Claire",
        email="claire.morel@inrs.fr",
    )
    assert response.status_code == 302, _text(response)
    db.expire_all()
    person = db.exec(select(Person).where(Person.email == "claire.morel@inrs.fr")).one()
    roles = db.exec(select(RoleGrant.role).where(RoleGrant.person_id == person.id)).all()
    assert roles == ["administrateur"]
    mail = db.exec(select(OutboxEmail).where(OutboxEmail.to_address == person.email)).one()
    assert "valable 72 heures" in mail.text_body
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "account.admin_created")).one()
    assert (audit.actor_id, audit.object_id) == (people["admin"].id, person.id)
    assert "MOREL Claire" in _text(client.get("/caisses/administrateurs"))

    before = _written(db)
    taken = _post(
        client,
        "/caisses/administrateurs",
        "/caisses/administrateurs",
        last_name="Vidal",
        first_name="Paul",
        email="paul@ex.fr",
    )
    assert taken.status_code == 422
    assert _error(taken, "email") == "Un compte existe déjà avec cette adresse e-mail."
    assert _written(db) == before
    bad = _post(
        client,
        "/caisses/administrateurs",
        "/caisses/administrateurs",
        last_name="Vidal",
        first_name="Paul",
        email="paul@",
    )
    assert bad.status_code == 422 and _error(bad, "email").startswith("Saisissez une adresse")
    assert _written(db) == before


def test_other_roles_are_refused(client, login_as, db, people, routing):
    fund, grant = people["alsace"], people["grant"]
    before = _written(db)
    for who in ("instructor", "trainer"):
        login_as(people[who])
        token = csrf_token(client, "/")
        for url in ("/caisses/", f"/caisses/{fund.id}", "/caisses/administrateurs"):
            assert client.get(url).status_code == 403, url
        for url, data in (
            (
                f"/caisses/{fund.id}/instructeurs",
                {"last_name": "A", "first_name": "B", "email": "ab@ex.fr"},
            ),
            (f"/caisses/{fund.id}/instructeurs/verifier", {"email": "ab@ex.fr"}),
            (f"/caisses/{fund.id}/instructeurs/{grant.id}/retirer", {}),
            (
                f"/caisses/{fund.id}/departements",
                {"department": "57", "to_fund_id": "1", "confirm": "oui"},
            ),
            ("/caisses/administrateurs", {"last_name": "A", "first_name": "B", "email": "a@b.fr"}),
        ):
            assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
        client.post("/deconnexion", data={"csrf_token": token})
    assert _written(db) == before
