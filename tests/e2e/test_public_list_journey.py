"""A browser journey through "Organismes habilités" on a phone: an anonymous visitor goes
from the login page to the list, types a name without its accents and the results narrow
as they type (htmx, the address updated so the search can be bookmarked), picks a
dispositif, reaches the organisation's contacts. axe-core and the 390 px width are
checked at each step."""

import re

from playwright.sync_api import expect

from tests import factories

PHONE = {"width": 390, "height": 844}


def _listed(db, name, scheme_code, **contacts):
    org = factories.organization(db, name=name)
    org.public_listing = True
    for key, value in contacts.items():
        setattr(org, f"public_{key}", value)
    db.add(org)
    factories.accreditation(db, org, scheme_code=scheme_code, level=1)
    return org


def test_a_visitor_finds_an_accredited_organisation_on_a_phone(db, journey):
    _listed(
        db,
        "ÉCOLE DE PRÉVENTION D'ALSACE",
        "SST",
        email="contact@ecole-prevention.fr",
        phone="+33 3 88 00 00 00",
        website="https://www.ecole-prevention-alsace-et-moselle-formation.fr/organismes",
    )
    _listed(db, "FORMATION DU RHIN", "PRAP-IBC", email="contact@rhin.fr")
    db.commit()
    visitor = journey
    visitor.page.set_viewport_size(PHONE)

    page = visitor.goto("/connexion")
    page.get_by_role("link", name="Consultez la liste des organismes habilités").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organismes habilités")
    expect(page.get_by_role("status")).to_have_text("2 organismes habilités.")
    visitor.check("liste")

    page.get_by_label("Nom de l'organisme").press_sequentially("ecole prevention")
    expect(page.get_by_role("status")).to_have_text("1 organisme habilité pour ces critères.")
    expect(page.get_by_role("heading", name="FORMATION DU RHIN")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"nom=ecole(\+|%20)prevention"))
    visitor.check("recherche-par-nom")

    page.get_by_label("Nom de l'organisme").fill("")
    page.get_by_label("Dispositif").select_option("PRAP-IBC")
    expect(page.get_by_role("heading", level=2)).to_have_text("FORMATION DU RHIN")
    page.get_by_label("Dispositif").select_option("SST")
    school = page.get_by_role("region", name="ÉCOLE DE PRÉVENTION D'ALSACE")
    expect(school.get_by_role("link", name="contact@ecole-prevention.fr")).to_have_attribute(
        "href", "mailto:contact@ecole-prevention.fr"
    )
    expect(school).to_contain_text(re.compile(r"niveau 1 — jusqu'au \d\d/\d\d/\d{4}"))
    visitor.check("contacts")
