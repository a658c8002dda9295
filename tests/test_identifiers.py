import pytest

from app.domain.identifiers import (
    is_forprev_number,
    new_forprev_number,
    normalize_forprev_number,
    random_forprev_number,
)
from tests import factories


@pytest.mark.parametrize(
    "value,valid",
    [
        ("JKA37899", True),
        ("ABC00000", True),
        ("jka37899", False),
        ("JK37899", False),
        ("JKAB3789", False),
        ("JKA3789", False),
        ("JKA378990", False),
        ("JKA 37899", False),
        ("", False),
        ("ÉKA37899", False),
    ],
)
def test_forprev_number_format(value, valid):
    assert is_forprev_number(value) is valid


def test_normalisation_accepts_what_people_type():
    assert normalize_forprev_number(" jka 37899 ") == "JKA37899"


def test_random_numbers_have_the_format_and_vary():
    numbers = {random_forprev_number() for _ in range(500)}
    assert all(is_forprev_number(n) for n in numbers)
    assert len(numbers) > 490


def test_new_number_avoids_numbers_already_held(db, monkeypatch):
    factories.person(db, forprev_number="AAA11111")
    candidates = iter(["AAA11111", "AAA11111", "BBB22222"])
    monkeypatch.setattr("app.domain.identifiers.random_forprev_number", lambda: next(candidates))
    assert new_forprev_number(db) == "BBB22222"
