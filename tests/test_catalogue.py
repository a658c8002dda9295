"""The administrator's catalogue lists every dispositif with its levels and the
certificates each level issues."""

from tests.factories import grant, person


def test_catalogue_lists_schemes_levels_and_certificates(client, login_as, db):
    admin = person(db)
    grant(db, admin, "administrateur")
    db.commit()
    response = login_as(admin).get("/catalogue/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sauveteur Secouriste du Travail" in html or "(SST)" in html
    assert "(CATEC)" in html
    assert "Exigences techniques" in html
    assert "mois)" in html  # certificate validity


def test_catalogue_is_for_administrators_only(client, login_as, db):
    trainer = person(db)
    grant(db, trainer, "formateur")
    db.commit()
    assert login_as(trainer).get("/catalogue/").status_code == 403
