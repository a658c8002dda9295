"""Personnes searched by a common word: every page lists the people of the whole list
sorted by name, first name and id — across pages, with many of the same name — and a
merged record's match lists the person it was merged into, once."""

import pytest

from app.domain import people_admin as people
from app.domain.access import ActiveRole
from app.models.people import Role
from app.pagination import paginate
from tests import factories

PER_PAGE = 4


@pytest.fixture
def martins(db):
    """14 MARTIN (same names, several first names, in no order of id), others around, and
    a duplicate MARTIN merged into a BERNARD."""
    found = []
    for i in range(14):
        first = ["Luc", "Anaïs", "Jean"][i * 7 % 3]
        last = "MARTIN" if i % 4 else "MARTINEZ"
        found.append(factories.person(db, last_name=last, first_name=first))
    for last in ("BERNARD", "DURAND", "PETIT"):
        factories.person(db, last_name=last, first_name="Marie")
    kept = factories.person(db, last_name="BERNARD", first_name="Zoé")
    factories.person(db, last_name="MARTIN", first_name="Zoé", merged_into_id=kept.id)
    found.append(kept)
    administrator = factories.person(db, last_name="ADMIN", first_name="Root")
    grant = factories.grant(db, administrator, Role.ADMINISTRATEUR)
    db.commit()
    role = ActiveRole(grant_id=grant.id, person_id=administrator.id, role=Role.ADMINISTRATEUR)
    expected = [p.id for p in sorted(found, key=lambda p: (p.last_name, p.first_name, p.id))]
    return role, expected


def test_every_page_of_a_common_word_follows_the_whole_sorted_list(app, db, martins):
    role, expected = martins
    listed, number = [], 1
    with app.test_request_context():
        while True:
            page = paginate(
                db, people.search_statement(role, "martin"), page=number, per_page=PER_PAGE
            )
            assert page.total == len(expected)
            listed += [person.id for person in page.items]
            if not page.has_next:
                break
            number += 1
    assert number == -(-len(expected) // PER_PAGE)
    assert listed == expected
