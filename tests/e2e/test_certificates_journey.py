"""After "Générer les certificats": the progress fills while a worker builds the PDFs,
the ZIP downloads, and "J'ai téléchargé les certificats" removes the to-do item."""

import io
import zipfile
from datetime import date
from pathlib import Path

from playwright.sync_api import expect

from app.models import CertSession
from app.models.cert_sessions import SessionState
from app.models.people import Role
from jobs.certificates import generate_certificates
from tests import factories


def test_generate_watch_progress_download_and_tick(app, db, journey):
    org = factories.organization(db, name="MAROSE FORMATION")
    acc = factories.accreditation(db, org, scheme_code="SST", level=1)
    manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    trainer = factories.person(db, first_name="Stéphanie", email="t@exemple.fr")
    factories.grant(db, trainer, Role.FORMATEUR)
    cs = factories.closed_session(
        db,
        org=org,
        acc=acc,
        trainer=trainer,
        creator=manager,
        trainees=[
            ("DURAND", "Paul", date(1990, 3, 12), True),
            ("MOREAU", "Léa", date(1991, 2, 28), True),
            ("PETIT", "Hugo", date(1985, 1, 1), True),
            ("ROUX", "Emma", date(1995, 5, 5), False),
        ],
    )
    cs.state, cs.success_count, cs.closed_at, cs.purge_after = SessionState.ENTITY, None, None, None
    db.add(cs)
    db.commit()

    page = journey.goto("/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill("karine@exemple.fr")
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    journey.goto(f"/sessions/{cs.id}/stagiaires")
    page.get_by_role("button", name="Générer les certificats").click()
    expect(page.get_by_role("tab", name="Téléchargements")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#progression")).to_contain_text("Génération des certificats en cours")
    journey.check("generation-en-cours")

    with app.app_context():  # the worker's job, run here while the page polls
        assert generate_certificates(cs.id)["total"] == 3
    download_link = page.get_by_role("link", name="Télécharger les certificats (3)")
    expect(download_link).to_be_visible(timeout=10_000)
    expect(page.locator("#progression")).to_contain_text(
        "3 stagiaires ont validé la certification."
    )
    journey.check("certificats-prets")
    with page.expect_download() as info:
        download_link.click()
    data = Path(info.value.path()).read_bytes()
    assert len(zipfile.ZipFile(io.BytesIO(data)).namelist()) == 3

    page.get_by_role("button", name="J'ai téléchargé les certificats").click()
    expect(page.get_by_role("status").first).to_contain_text("les certificats sont téléchargés")
    expect(page.locator("#progression")).to_contain_text("Certificats marqués comme téléchargés")
    journey.check("telecharges")
    journey.goto("/")
    expect(page.locator("main")).not_to_contain_text("prêts à télécharger")
    db.expire_all()
    assert db.get(CertSession, cs.id).downloaded_at is not None
