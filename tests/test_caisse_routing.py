"""Postal code → department → caisse instructrice (REFERENCE §1)."""

import pytest
from sqlmodel import select

from app.domain.caisse_routing import department_for_postal_code, fund_for_postal_code
from app.domain.errors import DomainError
from app.models import Department, Fund

# written out from REFERENCE.md §1, independently of seeds/reference.py
EXPECTED = {
    "ALSACE-MOSELLE": "57 67 68",
    "AQUITAINE": "24 33 40 47 64",
    "AUVERGNE": "03 15 43 63",
    "BFC": "21 25 39 58 70 71 89 90",
    "BRETAGNE": "22 29 35 56",
    "CENTRE-VAL-DE-LOIRE": "18 28 36 37 41 45",
    "CENTRE-OUEST": "16 17 19 23 79 86 87",
    "HAUTS-DE-FRANCE": "02 59 60 62 80",
    "LANGUEDOC-ROUSSILLON": "11 30 34 48 66",
    "MIDI-PYRENEES": "09 12 31 32 46 65 81 82",
    "NORMANDIE": "14 27 50 61 76",
    "NORD-EST": "08 10 51 52 54 55 88",
    "PAYS-DE-LA-LOIRE": "44 49 53 72 85",
    "RHONE-ALPES": "01 07 26 38 42 69 73 74",
    "SUD-EST": "04 05 06 13 2A 2B 83 84",
    "CRAMIF": "75 77 78 91 92 93 94 95",
    "GUADELOUPE": "971 977 978",
    "MARTINIQUE": "972",
    "GUYANE": "973",
    "REUNION": "974",
    "MAYOTTE": "976",
}
DEPARTMENT_TO_FUND = {d: fund for fund, ds in EXPECTED.items() for d in ds.split()}


def _postal_code(department: str) -> str:
    if department == "2A":
        return "20090"
    if department == "2B":
        return "20200"
    return department.ljust(5, "0") if len(department) == 3 else f"{department}100"


def test_every_metropolitan_department_is_covered_once():
    metropolitan = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B"}
    overseas = {"971", "972", "973", "974", "976", "977", "978"}
    assert set(DEPARTMENT_TO_FUND) == metropolitan | overseas
    assert sum(len(ds.split()) for ds in EXPECTED.values()) == 96 + 7  # none listed twice


@pytest.mark.parametrize("department,fund_code", sorted(DEPARTMENT_TO_FUND.items()))
def test_each_department_routes_to_its_fund(db, department, fund_code):
    found_department, fund = fund_for_postal_code(db, _postal_code(department))
    assert found_department.code == department
    assert fund.code == fund_code


def test_seeded_departments_match_the_reference_exactly(db):
    rows = db.exec(select(Department.code, Fund.code).join(Fund)).all()
    assert dict(rows) == DEPARTMENT_TO_FUND


@pytest.mark.parametrize(
    "postal_code,department,fund_code",
    [
        ("67000", "67", "ALSACE-MOSELLE"),
        ("20000", "2A", "SUD-EST"),
        ("20199", "2A", "SUD-EST"),
        ("20200", "2B", "SUD-EST"),
        ("20600", "2B", "SUD-EST"),
        ("20699", "2B", "SUD-EST"),
        ("97400", "974", "REUNION"),
        ("97133", "971", "GUADELOUPE"),
        ("97150", "971", "GUADELOUPE"),
        ("97600", "976", "MAYOTTE"),
        ("75011", "75", "CRAMIF"),
        ("01000", "01", "RHONE-ALPES"),
        (" 68100 ", "68", "ALSACE-MOSELLE"),
    ],
)
def test_reference_examples(db, postal_code, department, fund_code):
    found_department, fund = fund_for_postal_code(db, postal_code)
    assert (found_department.code, fund.code) == (department, fund_code)


@pytest.mark.parametrize(
    "postal_code,message",
    [
        ("", "Le code postal doit comporter 5 chiffres."),
        ("6700", "Le code postal doit comporter 5 chiffres."),
        ("670000", "Le code postal doit comporter 5 chiffres."),
        ("67 000", "Le code postal doit comporter 5 chiffres."),
        ("2A000", "Le code postal doit comporter 5 chiffres."),
        ("ABCDE", "Le code postal doit comporter 5 chiffres."),
        ("20700", "Le code postal 20700 ne correspond à aucun département."),
        ("20999", "Le code postal 20999 ne correspond à aucun département."),
        ("00100", "Le code postal 00100 ne correspond à aucun département couvert par une caisse."),
        ("96000", "Le code postal 96000 ne correspond à aucun département couvert par une caisse."),
        ("98000", "Le code postal 98000 ne correspond à aucun département couvert par une caisse."),
        ("97500", "Le code postal 97500 ne correspond à aucun département couvert par une caisse."),
        ("97800", None),  # 978 is listed: accepted
    ],
)
def test_refused_codes_get_a_clear_message(db, postal_code, message):
    if message is None:
        assert fund_for_postal_code(db, postal_code)[1].code == "GUADELOUPE"
        return
    with pytest.raises(DomainError) as error:
        fund_for_postal_code(db, postal_code)
    assert error.value.message == message
    assert error.value.field == "postal_code"


def test_department_parsing_needs_no_database():
    assert department_for_postal_code("20190") == "2A"
    assert department_for_postal_code("97412") == "974"
