"""Statistiques in a browser: the administrator opens the charts, filters by dispositif
(htmx puts the filter in the address, so the view can be bookmarked), the filtered view
opened from its address on a 390 px phone fits the screen; axe finds nothing."""

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests import factories
from tests.test_statistics import population  # noqa: F401  (the fixture population)


def test_the_administrator_filters_the_charts_and_a_phone_opens_the_bookmark(
    db,
    journey,
    population,  # noqa: F811
):
    from app.domain.statistics import count_session
    from app.models import CertSession

    for cs_id in population.sessions:
        count_session(db, db.get(CertSession, cs_id))
    db.commit()
    admin = db.get(type(population.trainer), population.admin.person_id)
    page = journey.goto("/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill(admin.email)
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Statistiques").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Statistiques")
    expect(page.locator("svg.chart-svg")).to_have_count(7)
    journey.check("statistiques-national")

    page.locator("#dispositif").select_option("PRAP-IBC")
    expect(page).to_have_url(re.compile(r"/statistiques\?.*dispositif=PRAP-IBC"))
    table = page.get_by_role("table", name="Stagiaires par dispositif et niveau")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("PRAP-IBC niveau 1")
    journey.check("statistiques-prap")
    bookmark = page.url
    assert parse_qs(urlparse(bookmark).query) == {"dispositif": ["PRAP-IBC"]}

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(bookmark)
    expect(page.locator("#dispositif")).to_have_value("PRAP-IBC")
    expect(page.locator("#figure-departements")).to_be_visible()
    box = page.locator("svg.chart-svg").first.bounding_box()
    assert box["width"] <= 390, box
    journey.check("statistiques-telephone")
