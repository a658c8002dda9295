"""What is kept between requests to make pages cheaper never shows one person's data to
another: each kept thing is a pure function of a key that holds everything it depends on.

- the templates' `url_for` (app.web.url_builder): links, keyed by endpoint, values, mount
  path, blueprint and host;
- a list's statement built once per scope (the session list's, keyed by ScopeKey);
- the paged form of a statement, kept with that statement only (app.pagination);
- the person and their roles, read together on each request, kept for that request only.
Static files are kept by browsers a year: tests/test_static_files.py.
"""

import re
from datetime import timedelta

from flask import Blueprint
from sqlmodel import select

from app.clock import today
from app.models import CertSession, Person, RoleGrant
from app.models.cert_sessions import SessionState
from app.models.people import Role
from app.pagination import paginate, rows_of
from tests import factories
from tests.conftest import csrf_token


def _login(client, person):
    token = csrf_token(client)
    answer = client.post(
        "/connexion",
        data={"identifier": person.email, "password": factories.PASSWORD, "csrf_token": token},
    )
    assert answer.status_code == 302
    return client


def _session(db, org, creator, days: int) -> int:
    cs = CertSession(
        organization_id=org.id,
        created_by_id=creator.id,
        state=SessionState.DRAFT,
        end_date=today() - timedelta(days=days),
    )
    db.add(cs)
    db.flush()
    return cs.id


def _listed(client) -> set[int]:
    html = client.get("/sessions/").get_data(as_text=True)
    return {int(n) for n in re.findall(r'href="/sessions/(\d+)"', html)}


def test_session_lists_of_two_entities_and_a_delegataire_stay_their_own(app, db):
    org_a, org_b = factories.organization(db), factories.organization(db)
    manager_a = factories.person(db, email="gestion.a@exemple.fr")
    manager_b = factories.person(db, email="gestion.b@exemple.fr")
    delegate_a = factories.person(db, email="delegue.a@exemple.fr")
    factories.grant(db, manager_a, Role.GESTIONNAIRE, organization=org_a)
    factories.grant(db, manager_b, Role.GESTIONNAIRE, organization=org_b)
    factories.grant(db, delegate_a, Role.DELEGATAIRE, organization=org_a)
    of_a = {_session(db, org_a, manager_a, n) for n in range(3)}
    of_delegate = {_session(db, org_a, delegate_a, 5)}
    of_b = {_session(db, org_b, manager_b, n) for n in range(2)}
    db.commit()
    a = _login(app.test_client(), manager_a)
    b = _login(app.test_client(), manager_b)
    delegate = _login(app.test_client(), delegate_a)
    # alternately, in one process: each list's statement is built once and then kept
    for _ in range(2):
        assert _listed(a) == of_a | of_delegate
        assert _listed(b) == of_b
        assert _listed(delegate) == of_delegate
    # and the export links carry each one's entity
    page_b = b.get("/sessions/").get_data(as_text=True)
    assert f"/entites/{org_b.id}/" in page_b and f"/entites/{org_a.id}/" not in page_b


def test_links_are_built_for_the_mount_path_the_host_and_the_blueprint(app):
    url_for = app.jinja_env.globals["url_for"]
    with app.test_request_context("/", base_url="http://un.exemple/"):
        assert url_for("auth.login") == "/connexion"
        assert url_for("auth.login", _external=True) == "http://un.exemple/connexion"
        assert url_for("auth.login", next="/a") == "/connexion?next=/a"
        assert url_for("auth.login", next="/b") == "/connexion?next=/b"
    with app.test_request_context("/", base_url="http://autre.exemple/sous-chemin/"):
        assert url_for("auth.login") == "/sous-chemin/connexion"
        assert url_for("auth.login", _external=True) == "http://autre.exemple/sous-chemin/connexion"
    # a relative endpoint is read against the blueprint of the request
    with app.test_request_context("/connexion"):
        assert url_for(".login") == "/connexion"
    with app.test_request_context("/aide/"):
        assert url_for(".index") == "/aide/"
    with app.test_request_context("/sessions/"):
        assert url_for(".index") == "/sessions/"
    # a value that cannot be a key is built each time, not refused
    with app.test_request_context("/"):
        assert url_for("auth.login", next=["/x"]) == "/connexion?next=/x"


def test_a_blueprint_named_link_is_never_another_blueprints(app):
    # two requests, same relative endpoint, two blueprints: the kept link is per blueprint
    url_for = app.jinja_env.globals["url_for"]
    assert isinstance(app.blueprints["help"], Blueprint)
    with app.test_request_context("/aide/"):
        first = url_for(".index")
    with app.test_request_context("/sessions/"):
        second = url_for(".index")
    assert (first, second) == ("/aide/", "/sessions/")


def test_a_filtered_statement_does_not_reuse_the_paged_form_of_its_origin(app, db):
    others = [factories.person(db, last_name="AUTRE").id for _ in range(3)]
    marked = [factories.person(db, last_name="GARDÉ").id for _ in range(3)]
    db.commit()
    with app.test_request_context("/"):
        every = select(Person.id).order_by(Person.id)
        first = paginate(db, every, page=1, per_page=2)
        assert first.items == others[:2]
        # .where() copies the statement's attributes: the paged form kept with `every`
        # must not serve this one
        some = every.where(Person.last_name == "GARDÉ")
        assert paginate(db, some, page=1, per_page=2).items == marked[:2]
        assert paginate(db, some, page=2, per_page=2).items == marked[2:]
        assert paginate(db, every, page=1, per_page=2).items == first.items


def test_rows_through_the_connection_are_the_orms_rows(app, db):
    person = factories.person(db, last_name="LIGNE")
    db.commit()
    one_column = select(Person.id).where(Person.id == person.id)
    columns = select(Person.id, Person.last_name).where(Person.id == person.id)
    objects = select(Person).where(Person.id == person.id)
    assert rows_of(db, one_column) == db.exec(one_column).all() == [person.id]
    assert [tuple(r) for r in rows_of(db, columns)] == [(person.id, "LIGNE")]
    assert rows_of(db, objects)[0] is db.get(Person, person.id)
    # a change not flushed yet is seen, as through the ORM
    person.last_name = "CHANGÉ"
    assert [tuple(r) for r in rows_of(db, columns)] == [(person.id, "CHANGÉ")]
    db.rollback()


def test_roles_read_with_the_person_are_read_again_on_the_next_request(app, db):
    org = factories.organization(db, name="ENTITÉ DES RÔLES")
    person = factories.person(db, email="deux.roles@exemple.fr")
    factories.grant(db, person, Role.GESTIONNAIRE, organization=org)
    trainer = factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    client = _login(app.test_client(), person)
    page = client.get("/").get_data(as_text=True)
    assert 'id="role-select"' in page and "Formateur" in page
    db.get(RoleGrant, trainer.id).active = False
    db.commit()
    page = client.get("/").get_data(as_text=True)
    assert 'id="role-select"' not in page
    assert "Gestionnaire — ENTITÉ DES RÔLES" in page


def test_links_with_equal_values_of_other_types_stay_apart(app):
    url_for = app.jinja_env.globals["url_for"]
    with app.test_request_context("/"):
        assert url_for("auth.login", flag=True) == "/connexion?flag=True"
        assert url_for("auth.login", flag=1) == "/connexion?flag=1"
        assert url_for("auth.login", flag=1.0) == "/connexion?flag=1.0"


def test_links_outside_a_request_are_flasks(app):
    # a template drawn by a job (a mail, a PDF) has no request: Flask's url_for, each time
    url_for = app.jinja_env.globals["url_for"]
    app.config["SERVER_NAME"] = "forprev.exemple"
    try:
        with app.app_context():
            assert url_for("auth.login") == "http://forprev.exemple/connexion"
    finally:
        app.config["SERVER_NAME"] = None


def test_a_union_is_paged_and_counted(app, db):
    from sqlalchemy import union_all

    ids = [factories.person(db, last_name="UNION").id for _ in range(3)]
    db.commit()
    both = union_all(
        select(Person.id).where(Person.id == ids[0]),
        select(Person.id).where(Person.id.in_(ids[1:])),
    ).order_by("id")
    with app.test_request_context("/"):
        first = paginate(db, both, page=1, per_page=2)
        assert [row[0] for row in first.items] == ids[:2] and first.total == 3
        assert [row[0] for row in paginate(db, both, page=2, per_page=2).items] == ids[2:]


def test_what_a_request_reads_once_ends_with_it(app):
    from flask import g

    from app.domain.access import ActiveRole
    from app.domain.cert_session_rules import declarable_accreditations
    from app.extensions import get_db

    role = ActiveRole(grant_id=1, person_id=1, role=Role.GESTIONNAIRE, organization_id=1)
    with app.app_context():  # one app context, two requests, as in a shell or a test
        with app.test_request_context("/"):
            declarable_accreditations(get_db(), role)
            assert g.get("forprev_request_memo")
        with app.test_request_context("/"):
            assert not g.get("forprev_request_memo")
