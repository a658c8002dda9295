"""The public list "Organismes habilités" (SPEC §4): who appears (training organisations
listed by choice with an accreditation valid today), what is shown (the chosen contacts
only), the filters (accents and case ignored), pagination, the Redis cache (nothing
private kept, a change seen after its lifetime or at once when the listing changes) and a
cost that does not grow with the number of organisations."""

import html as html_lib
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import event

from app.clock import today
from app.domain import public_list
from app.models import Organization
from app.models.organizations import OrganizationKind
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token

URL = "/organismes-habilites"


def listed(db, name, *, email=None, phone=None, website=None, **fields):
    """A training organisation on the list, with a valid SST 1 unless told otherwise."""
    org = factories.organization(db, name=name, **fields)
    org.public_listing = True
    org.public_email, org.public_phone, org.public_website = email, phone, website
    org.signatory_last_name, org.signatory_first_name = "SIGNATAIRE", "Sophie"
    org.siret = "12345678901234"
    db.add(org)
    db.flush()
    return org


def text_of(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def names_on(page: str, candidates) -> set[str]:
    return {name for name in candidates if name in page}


@pytest.fixture
def population(db):
    day = today()
    shown = listed(db, "FORMATION ÉLAN", email="contact@elan.fr", phone="+33 3 88 00 00 00")
    factories.accreditation(db, shown, scheme_code="SST", level=1, end=day)  # last valid day
    factories.accreditation(db, shown, scheme_code="PRAP-IBC", level=1, end=day - timedelta(days=1))
    expired = listed(db, "EXPIRÉE FORMATION", email="x@expiree.fr")
    factories.accreditation(db, expired, end=day - timedelta(days=1))
    suspended = listed(db, "SUSPENDUE FORMATION", email="x@suspendue.fr")
    factories.suspension(db, factories.accreditation(db, suspended), day - timedelta(days=2), day)
    future = listed(db, "FUTURE FORMATION", email="x@future.fr")
    factories.accreditation(db, future, start=day + timedelta(days=1))
    not_listed = listed(db, "DISCRÈTE FORMATION", email="x@discrete.fr")
    not_listed.public_listing = False
    factories.accreditation(db, not_listed)
    company = listed(
        db, "ENTREPRISE LISTÉE", email="x@entreprise.fr", kind=OrganizationKind.COMPANY
    )
    factories.accreditation(db, company)
    db.commit()
    return shown


HIDDEN = [
    "EXPIRÉE FORMATION",
    "SUSPENDUE FORMATION",
    "FUTURE FORMATION",
    "DISCRÈTE FORMATION",
    "ENTREPRISE LISTÉE",
]


def test_only_listed_training_organisations_valid_today_appear(client, population):
    page = text_of(client.get(URL))
    assert "FORMATION ÉLAN" in page
    assert names_on(page, HIDDEN) == set()
    assert "x@discrete.fr" not in page
    # the valid accreditation with its end date, not the expired one
    assert f"(SST), niveau 1 — jusqu'au {today():%d/%m/%Y}" in page
    assert "PRAP-IBC" not in page.split('id="resultats"')[1]
    assert "1 organisme habilité." in page
    # meant to be found by search engines
    assert "noindex" not in page


def test_only_the_chosen_contacts_are_shown(client, population):
    page = text_of(client.get(URL))
    assert 'href="mailto:contact@elan.fr"' in page
    assert 'href="tel:+33388000000"' in page
    assert "Site web" not in page  # not given, not shown
    for private in ("SIGNATAIRE", "Sophie", "12345678901234", "1 rue Test"):
        assert private not in page


def test_the_login_page_links_to_the_list(client):
    page = client.get("/connexion").get_data(as_text=True)
    assert f'href="{URL}"' in page


@pytest.fixture
def searchable(db):
    alsace = listed(db, "ÉCOLE SÉCURITÉ D'ALSACE", email="a@ecole.fr")
    factories.accreditation(db, alsace, scheme_code="SST", level=2)
    paris = listed(
        db, "Prévention Île-de-France", email="b@prev.fr", postal_code="75011", fund_code="CRAMIF"
    )
    factories.accreditation(db, paris, scheme_code="PRAP-IBC", level=1)
    db.commit()
    return alsace, paris


BOTH = ["ÉCOLE SÉCURITÉ D'ALSACE", "Prévention Île-de-France"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"nom": "ecole securite"}, {BOTH[0]}),
        ({"nom": "ALSACE école"}, {BOTH[0]}),  # words in any order, case ignored
        ({"nom": "d alsace"}, {BOTH[0]}),  # the apostrophe is a space
        ({"nom": "ile de france"}, {BOTH[1]}),  # hyphens too
        ({"nom": "PRÉVENTION"}, {BOTH[1]}),
        ({"nom": "formation"}, set()),
        ({"nom": "%"}, set()),  # no wildcard
        ({"dispositif": "SST"}, {BOTH[0]}),
        ({"dispositif": "PRAP-IBC"}, {BOTH[1]}),
        ({"niveau": "2"}, {BOTH[0]}),
        ({"dispositif": "SST", "niveau": "1"}, set()),
        ({"departement": "75"}, {BOTH[1]}),
        ({"departement": "67"}, {BOTH[0]}),
        # bad input is ignored, never an error
        ({"niveau": "abc", "dispositif": "INCONNU", "departement": "<script>"}, set(BOTH)),
        ({"region": "99999999999999"}, set(BOTH)),
    ],
)
def test_filters(client, searchable, query, found):
    response = client.get(URL, query_string=query)
    assert response.status_code == 200
    assert names_on(text_of(response), BOTH) == found


def test_filter_by_region(client, db, searchable):
    cramif = factories.fund(db, "CRAMIF")
    page = text_of(client.get(URL, query_string={"region": cramif.id}))
    assert names_on(page, BOTH) == {BOTH[1]}


def test_a_very_long_name_is_cut_not_refused(client, searchable):
    response = client.get(URL, query_string={"nom": "é" * 20_000})
    assert response.status_code == 200
    assert "Aucun organisme habilité ne correspond à ces critères." in text_of(response)


def test_the_filtered_list_is_also_a_fragment(client, searchable):
    response = client.get(URL, query_string={"nom": "ecole"}, headers={"HX-Request": "true"})
    body = text_of(response)
    assert "<html" not in body and BOTH[0] in body and BOTH[1] not in body
    assert "HX-Request" in response.headers["Vary"]


def test_pagination_keeps_the_filters(app, client, db):
    app.config["PAGE_SIZE"] = 2
    for n in range(5):
        org = listed(db, f"ORGANISME {n}", email=f"o{n}@exemple.fr")
        factories.accreditation(db, org)
    db.commit()
    first = text_of(client.get(URL, query_string={"nom": "organisme"}))
    assert names_on(first, [f"ORGANISME {n}" for n in range(5)]) == {"ORGANISME 0", "ORGANISME 1"}
    assert "Page 1 sur 3 (5 au total)" in first
    assert "nom=organisme" in first and "page=2" in first
    last = text_of(client.get(URL, query_string={"nom": "organisme", "page": 3}))
    assert names_on(last, [f"ORGANISME {n}" for n in range(5)]) == {"ORGANISME 4"}


def _cached(app) -> list[str]:
    connection = redis.Redis.from_url(app.config["REDIS_URL"])
    return [
        connection.get(key).decode()
        for key in connection.scan_iter(f"{public_list.CACHE_PREFIX}:*")
        if not key.endswith(b":generation")
    ]


def test_the_cache_keeps_nothing_private_and_expires(app, client, db, population):
    app.config["PUBLIC_LIST_CACHE_SECONDS"] = 1
    assert "FORMATION ÉLAN" in text_of(client.get(URL))
    kept = _cached(app)
    assert len(kept) == 1
    for private in ("SIGNATAIRE", "Sophie", "12345678901234", "1 rue Test", "x@discrete.fr"):
        assert private not in kept[0]
    # the organisation opts out behind the app's back: the kept page shows it a moment
    population.public_listing = False
    db.add(population)
    db.commit()
    assert "FORMATION ÉLAN" in text_of(client.get(URL))
    time.sleep(1.1)
    assert "FORMATION ÉLAN" not in text_of(client.get(URL))


def test_opting_out_from_mon_entite_leaves_the_list_at_once(app, client, db, login_as):
    org = listed(db, "FORMATION QUI SE RETIRE", email="contact@retire.fr")
    factories.accreditation(db, org)
    manager = factories.person(db, email="gestionnaire@retire.fr")
    grant = factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    db.commit()
    anonymous = app.test_client()
    assert "FORMATION QUI SE RETIRE" in text_of(anonymous.get(URL))
    login_as(manager, grant)
    response = client.post(
        "/entite/diffusion",
        data={
            "csrf_token": csrf_token(client, "/entite/diffusion"),
            "version": str(org.version),
            "public_email": "contact@retire.fr",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Organization, org.id).public_listing is False
    assert "FORMATION QUI SE RETIRE" not in text_of(anonymous.get(URL))


def _statements(app, client, url) -> int:
    engine = app.extensions["forprev_engine"]
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_page_costs_the_same_whatever_the_number_of_organisations(app, client, db):
    app.config["PUBLIC_LIST_CACHE_SECONDS"] = 0  # the query itself, not the cache
    app.config["PAGE_SIZE"] = 10
    for n in range(3):
        factories.accreditation(db, listed(db, f"PETIT {n}", email="a@b.fr"))
    db.commit()
    small = _statements(app, client, URL)
    for n in range(40):
        org = listed(db, f"GRAND {n}", email="a@b.fr")
        factories.accreditation(db, org)
        factories.accreditation(db, org, scheme_code="PRAP-IBC")
    db.commit()
    large = _statements(app, client, URL)
    # a full page needs its capped count on top: one statement more at most
    assert large <= small + 1
