"""The first journey: the three-role person logs in, switches role twice without
logging out, and the menu and dashboard follow."""

from playwright.sync_api import expect

from seeds.demo import DEMO_PASSWORD, load_demo


def _menu(page) -> list[str]:
    return page.locator("nav.side-nav a").all_inner_texts()


def test_three_role_person_switches_roles(db, journey):
    load_demo(db)
    db.commit()
    page = journey.goto("/")
    expect(page).to_have_url(journey.base_url + "/connexion?next=%2F")
    journey.check("connexion")

    page.get_by_role("button", name="Se connecter").click()  # empty: told what is missing
    expect(page.locator(".field-invalid .error").first).to_be_visible()
    journey.check("connexion-vide")

    page.get_by_label("E-mail ou numéro Forprev").fill("ROM37899")
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    switcher = page.get_by_label("Rôle")
    expect(switcher.locator("option:checked")).to_have_text("Gestionnaire — MAROSE FORMATION")
    expect(page.get_by_role("button", name="Déconnexion")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("MAROSE FORMATION")
    assert "Mon entité" in _menu(page) and "Habilitations" in _menu(page)
    assert _menu(page)[-1] == "Aide et assistance"
    journey.check("gestionnaire-marose")

    switcher.select_option(label="Gestionnaire — FORMATION GUY")
    page.get_by_role("button", name="Changer").click()
    expect(switcher.locator("option:checked")).to_have_text("Gestionnaire — FORMATION GUY")
    expect(page.get_by_role("heading", level=1)).to_contain_text("FORMATION GUY")
    page.get_by_role("link", name="Mon entité").click()
    expect(page.get_by_role("main")).to_contain_text("75011")
    journey.check("gestionnaire-guy-entite")

    page.get_by_label("Rôle").select_option(label="Formateur")
    page.get_by_role("button", name="Changer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Formateur")
    menu = _menu(page)
    assert "Mon entité" not in menu and "Habilitations" not in menu
    assert "Tableau de bord" in menu and "Aide et assistance" in menu
    journey.check("formateur")

    page.get_by_role("button", name="Déconnexion").click()
    expect(page).to_have_url(journey.base_url + "/connexion")
    expect(page.locator("form.role-switcher")).to_have_count(0)


def test_every_demo_role_walks_its_menu_without_accessibility_violation(db, journey):
    load_demo(db)
    db.commit()
    from seeds.demo import DEMO_LOGINS

    page = journey.page
    for _label, _email, number in DEMO_LOGINS:
        journey.goto("/connexion")
        page.get_by_label("E-mail ou numéro Forprev").fill(number)
        page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("button", name="Déconnexion")).to_be_visible()
        hrefs = page.locator("nav.side-nav a").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        for href in hrefs:
            journey.goto(href)
            expect(page.get_by_role("heading", level=1)).not_to_contain_text("erreur")
            journey.check(f"{number}{href}")
        page.get_by_role("button", name="Déconnexion").click()
        expect(page).to_have_url(journey.base_url + "/connexion")
