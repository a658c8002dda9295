"""Reference and demo data load idempotently; every demo login printed by `bin/run`
works; the demo's dates follow today."""

from sqlmodel import func, select

from app.clock import today
from app.domain.access import grants_of
from app.models import Accreditation, CertSession, Department, Fund, Person, Scheme
from seeds.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo
from seeds.reference import FUNDS, load_reference
from tests.conftest import run_flask


def _count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def test_reference_loads_twice_without_duplicates(db):
    before = {m: _count(db, m) for m in (Fund, Department, Scheme)}
    load_reference(db)
    db.commit()
    assert {m: _count(db, m) for m in (Fund, Department, Scheme)} == before
    assert before[Fund] == len(FUNDS) == 21  # REFERENCE.md §1
    # 96 metropolitan (2A and 2B for Corsica) and 971–974, 976, 977, 978
    assert before[Department] == 103


def test_demo_loads_once_and_every_login_works(db, client, auth):
    assert load_demo(db) is True
    db.commit()
    counts = {m: _count(db, m) for m in (Person, Accreditation, CertSession)}
    assert load_demo(db) is False
    db.commit()
    assert {m: _count(db, m) for m in (Person, Accreditation, CertSession)} == counts

    for _label, email, number in DEMO_LOGINS:
        for identifier in (email, number):
            response = auth.login(identifier, DEMO_PASSWORD)
            assert response.status_code == 302, (identifier, response.get_data(as_text=True))
            assert auth.logout().status_code == 302


def test_the_three_role_person_of_the_demo(db):
    load_demo(db)
    db.commit()
    romain = db.exec(select(Person).where(Person.forprev_number == "ROM37899")).one()
    labels = [role.label for role in grants_of(db, romain.id)]
    assert labels == [
        "Gestionnaire — MAROSE FORMATION",
        "Gestionnaire — FORMATION GUY",
        "Formateur",
    ]


def test_demo_dates_are_relative_to_today(db):
    load_demo(db)
    db.commit()
    ends = db.exec(select(Accreditation.end_date)).all()
    assert any(end < today() for end in ends), "une habilitation expirée"
    assert any(0 <= (end - today()).days < 183 for end in ends), "une qui expire sous 6 mois"
    assert any((end - today()).days > 365 for end in ends), "une habilitation valide"


def test_seed_commands_from_the_shell(database_url):
    env = {"FORPREV_ENV": "test", "FORPREV_DATABASE_URL": database_url}
    first = run_flask("seed", "demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "Données de démonstration chargées." in first.stdout
    again = run_flask("seed", "demo", env=env)
    assert "déjà présentes" in again.stdout
    reference = run_flask("seed", "reference", env=env)
    assert reference.returncode == 0 and "Référentiel chargé" in reference.stdout


def test_every_menu_page_of_every_demo_role_opens(db, client, auth):
    """The walk a newcomer makes: each demo login, each entry of its menu."""
    import re

    load_demo(db)
    db.commit()
    for label, email, _number in DEMO_LOGINS:
        auth.login(email, DEMO_PASSWORD)
        home = client.get("/").get_data(as_text=True)
        nav = home.split('aria-label="Menu principal"', 1)[1].split("</nav>", 1)[0]
        links = re.findall(r'<a href="([^"]+)"', nav)
        assert "/aide/" in links, label
        for link in links:
            response = client.get(link)
            assert response.status_code == 200, (label, link)
            assert "<h1>" in response.get_data(as_text=True), (label, link)
        auth.logout()
