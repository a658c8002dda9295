"""The rules of an entity's administrative data, without HTTP (REFERENCE §1, §5)."""

from datetime import date

import pytest

from app.domain.organization_rules import (
    RequestFields,
    caisse_for,
    check_activity_number,
    check_city_matches,
    check_request_fields,
    check_siret,
    check_urssaf_date,
)

BAD_KEY = "Ce SIRET n'existe pas : sa clé de contrôle est fausse."


@pytest.mark.parametrize(
    "siret",
    [
        "73282932000074",  # INSEE's own
        "732 829 320 00074",  # typed by groups
        "35600000049837",  # La Poste: no Luhn key, digits add up to 40
        "35600000000048",  # La Poste with a Luhn key that works too
        "",
        None,
    ],
)
def test_valid_sirets_pass(siret):
    assert check_siret(siret) is None


@pytest.mark.parametrize(
    ("siret", "message"),
    [
        ("73282932000075", BAD_KEY),  # checksum
        ("35600000012345", BAD_KEY),  # La Poste's SIREN, sum 34 and no Luhn key
        ("7328293200007", "Le SIRET doit comporter 14 chiffres."),  # 13 digits
        ("732829320000745", "Le SIRET doit comporter 14 chiffres."),
        ("7328293200007A", "Le SIRET doit comporter 14 chiffres."),
        ("٧٣٢٨٢٩٣٢٠٠٠٠٧٤", "Le SIRET doit comporter 14 chiffres."),  # Arabic-Indic digits
    ],
)
def test_bad_sirets_are_refused_in_french(siret, message):
    assert (check_siret(siret) or "").startswith(message)


@pytest.mark.parametrize(
    ("number", "kind", "message"),
    [
        ("11670000067", "organisme_formation", None),
        ("", "entreprise", None),
        ("1167000006", "organisme_formation", "doit comporter 11 chiffres"),
        ("1167000006X", "organisme_formation", "doit comporter 11 chiffres"),
        ("11670000067", "entreprise", "ne concerne que les organismes de formation"),
    ],
)
def test_activity_number(number, kind, message):
    result = check_activity_number(number, kind)
    assert (result is None) if message is None else (message in result)


def test_activity_number_is_required_for_a_training_organisation_only(db):
    base = dict(
        name="ACME",
        regime="Général",
        siret="73282932000074",
        urssaf_issued_on=date.today(),
        address="1 rue",
        postal_code="67000",
        city="Strasbourg",
        signatory_last_name="Dupont",
        signatory_first_name="Anne",
        signatory_function="Gérante",
    )
    training = RequestFields(kind="organisme_formation", **base)
    company = RequestFields(kind="entreprise", **base)
    assert check_request_fields(db, training, has_attestation=True, complete=True) == {
        "activity_number": "Le numéro de déclaration d'activité doit être renseigné "
        "pour un organisme de formation."
    }
    assert check_request_fields(db, company, has_attestation=True, complete=True) == {}
    assert check_request_fields(db, company, complete=True) == {
        "urssaf_file": "Joignez l'attestation URSSAF au format PDF."
    }
    # a draft may be incomplete
    assert check_request_fields(db, RequestFields(name="ACME")) == {}


@pytest.mark.parametrize(
    ("postal_code", "message"),
    [
        ("00000", "Le code postal 00000 ne correspond à aucun département couvert par une caisse."),
        ("96000", "Le code postal 96000 ne correspond à aucun département couvert par une caisse."),
        ("9740", "Le code postal doit comporter 5 chiffres."),
        ("98000", "Le code postal 98000 ne correspond à aucun département couvert par une caisse."),
        ("20700", "Le code postal 20700 ne correspond à aucun département."),
    ],
)
def test_refused_postal_codes_have_no_caisse(db, postal_code, message):
    errors = check_request_fields(db, RequestFields(postal_code=postal_code))
    assert errors["postal_code"] == message
    assert caisse_for(db, postal_code) is None


def test_a_postal_code_names_its_caisse(db):
    assert caisse_for(db, "67000").name == "Carsat Alsace-Moselle"
    assert caisse_for(db, "75011").name == "Cramif (Île-de-France)"


@pytest.mark.parametrize(
    ("postal_code", "city", "ok"),
    [
        ("67000", "Strasbourg", True),
        ("67000", "STRASBOURG", True),
        ("75011", "Paris", True),
        ("97400", "St Denis", True),
        ("67000", "Paris", False),
        ("75011", "Lyon", False),
        ("67390", "Marckolsheim", True),  # a town the reference does not know
    ],
)
def test_city_consistent_with_the_postal_code_where_known(postal_code, city, ok):
    message = check_city_matches(postal_code, city)
    assert (message is None) == ok, message
    if not ok:
        assert message.startswith(f"Le code postal {postal_code} est celui de ")


@pytest.mark.parametrize(
    ("issued_on", "message"),
    [
        (date(2026, 3, 15), None),
        (date(2025, 9, 16), None),  # 5 months and 30 days
        (date(2025, 9, 15), "doit dater de moins de 6 mois (du 16/09/2025 ou après)"),
        (date(2025, 7, 15), "doit dater de moins de 6 mois"),  # 8 months ago
        (date(2026, 3, 16), "ne peut pas être dans le futur"),
    ],
)
def test_urssaf_attestation_is_less_than_6_months_old(issued_on, message):
    result = check_urssaf_date(issued_on, on=date(2026, 3, 15))
    assert (result is None) if message is None else (message in result), result
