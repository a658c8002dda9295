"""The letters of an accreditation (app/domain/accreditation_letters.py): the lettre
d'engagement and the CNH decision letter print every name as typed in the embedded font,
say what they must (entity, signataire, dispositif, number, period, platforms), fit one
page; the decision letter is stored with the accreditation and reaches every gestionnaire,
attached, through a real SMTP server."""

import io
from datetime import date, datetime, timedelta

import pypdfium2
import pytest
from pypdf import PdfReader
from sqlmodel import select

from app.clock import UTC, frozen
from app.domain.accreditation_letters import (
    commitment_letter_pdf,
    decision_file_name,
    decision_letter_pdf,
    issue_decision,
    mail_unfavourable_decision,
)
from app.domain.errors import DomainError
from app.domain.storage import get_storage
from app.models import (
    Accreditation,
    AccreditationRequest,
    OutboxEmail,
    Platform,
    StoredFile,
)
from app.models.accreditations import RequestKind, RequestPhase
from app.models.organizations import OrganizationKind
from app.models.people import Role
from jobs.mail import deliver_outbox
from tests import factories
from tests.test_certificate_pdf import _missing_glyphs, _text_fonts, _words

# (first name, last name) of signataires a French registry can hold
SIGNATORIES = [
    ("Łukasz", "WOŹNIAK"),
    ("Ayşe", "YILDIRIM"),
    ("Ștefan", "POPESCU"),
    ("Nguyễn Thị", "ÁNH"),
    ("Œdipe", "ĞÜLEN"),
]
FONTS = {"/AAAAAA+DejaVuSans", "/AAAAAA+DejaVuSans-Bold"}
DECIDED = datetime(2026, 3, 9, 10, 30, tzinfo=UTC)


def entity(db, *, name="ŒUVRES DE PRÉVENTION ĞÜLEN", first="Łukasz", last="WOŹNIAK"):
    org = factories.organization(db, name=name, kind=OrganizationKind.AUTHORITY)
    org.siret = "21920075500011"
    org.address = "Place de la Mairie"
    org.postal_code, org.city = "67000", "STRASBOURG"
    org.signatory_first_name, org.signatory_last_name = first, last
    org.signatory_function = "Maire adjoint"
    db.add(org)
    db.flush()
    return org


def request_for(
    db, org, *, scheme="CATEC", level=1, kind=RequestKind.INITIAL, phase=RequestPhase.CNH, **fields
):
    creator = factories.person(db)
    req = AccreditationRequest(
        organization_id=org.id,
        fund_id=org.fund_id,
        scheme_level_id=factories.scheme_level(db, scheme, level).id,
        kind=kind,
        phase=phase,
        created_by_id=creator.id,
        submitted_at=DECIDED - timedelta(days=60),
        **fields,
    )
    db.add(req)
    db.flush()
    return req


def accreditation_for(db, org, req, *, platforms=(), mobile=True, sequence=0):
    acc = Accreditation(
        number=f"H{org.code}/2026/CATEC-1/C/{sequence:02d}",
        organization_id=org.id,
        scheme_level_id=req.scheme_level_id,
        request_id=req.id,
        sequence=sequence,
        start_date=date(2026, 3, 9),
        end_date=date(2031, 3, 9),
        mobile_platform=mobile,
        created_at=DECIDED,
    )
    db.add(acc)
    db.flush()
    for name, approved in platforms:
        db.add(
            Platform(
                accreditation_id=acc.id,
                name=name,
                address="3 rue de l'Œuvre",
                postal_code="67100",
                city="STRASBOURG",
                cnh_approved_on=approved,
            )
        )
    db.flush()
    return acc


def page_text(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1, "each letter fits one page"
    return reader, _words(reader.pages[0].extract_text())


def assert_drawn_by_the_embedded_font(reader: PdfReader, pdf: bytes) -> None:
    assert _text_fonts(reader) == FONTS
    assert _missing_glyphs(reader) == set()
    page_text = pypdfium2.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert not set(page_text) & {"\ufffd", "■"}


# --- the lettre d'engagement --------------------------------------------------------------


@pytest.mark.parametrize(("first", "last"), SIGNATORIES)
def test_the_commitment_letter_names_the_entity_its_signataire_and_the_dispositif(
    app, db, first, last
):
    org = entity(db, name=f"FORMATIONS {last} & ASSOCIÉS", first=first, last=last)
    req = request_for(db, org, scheme="CATEC", level=1)
    with app.test_request_context(), frozen(DECIDED):
        pdf = commitment_letter_pdf(db, req)
    reader, text = page_text(pdf)
    entity_name = f"FORMATIONS {last} & ASSOCIÉS"
    assert "Lettre d'engagement" in text
    assert f"Entité {entity_name} (Collectivité)" in text
    assert "SIRET 21920075500011" in text
    assert "Adresse Place de la Mairie, 67000 STRASBOURG" in text
    assert "Dispositif demandé CATEC / niveau 1" in text
    assert "Travail en espaces confinés — assainissement (CATEC) — niveau 1" in text
    assert f"Je soussigné(e) {first} {last}, Maire adjoint de {entity_name}, agissant" in text
    assert "Fait à STRASBOURG, le 09/03/2026" in text
    assert "Signature et cachet de l'entité" in text
    assert f"Demande d'habilitation n° {req.id}" in text
    assert_drawn_by_the_embedded_font(reader, pdf)


def test_a_letter_without_signataire_leaves_room_to_write_it(app, db):
    org = entity(db)
    org.signatory_first_name = org.signatory_last_name = org.signatory_function = None
    req = request_for(db, org, scheme="SST", level=1)
    with app.test_request_context():
        _reader, text = page_text(commitment_letter_pdf(db, req))
    assert "Je soussigné(e) ……………………………………, …………………… de ŒUVRES" in text
    assert "À l'attention de" not in text
    assert "Sauvetage secourisme du travail (SST) — niveau 1" in text


def test_no_commitment_letter_before_the_dispositif_is_chosen(app, db):
    req = request_for(db, entity(db))
    req.scheme_level_id = None
    with app.test_request_context(), pytest.raises(DomainError) as refused:
        commitment_letter_pdf(db, req)
    assert refused.value.message.startswith("Choisissez d'abord le dispositif et le niveau")


# --- the decision letter ----------------------------------------------------------------------


@pytest.mark.parametrize(("first", "last"), SIGNATORIES)
def test_the_decision_letter_says_number_period_and_platforms(app, db, first, last):
    org = entity(db, name=f"ATELIER {first.upper()} {last}", first=first, last=last)
    req = request_for(db, org)
    acc = accreditation_for(
        db,
        org,
        req,
        platforms=[("Plateforme Ağrı-Œuvre", date(2026, 3, 2)), ("Puits Nguyễn", None)],
    )
    with app.test_request_context():
        pdf = decision_letter_pdf(db, acc)
    reader, text = page_text(pdf)
    assert "Décision d'habilitation" in text
    assert f"Numéro d'habilitation {acc.number}" in text
    assert f"accordée à ATELIER {first.upper()} {last} :" in text
    assert "Dispositif et niveau CATEC / niveau 1" in text
    assert "Période d'activité du 09/03/2026 au 09/03/2031" in text
    assert "rendu le 09/03/2026 une décision favorable" in text
    assert f"demande d'habilitation n° {req.id} (demande initiale)" in text
    assert "Plateforme pédagogique mobile Approuvée" in text
    assert "Plateforme Ağrı-Œuvre 3 rue de l'Œuvre 67100 STRASBOURG 02/03/2026" in text
    assert "Puits Nguyễn 3 rue de l'Œuvre 67100 STRASBOURG" in text
    assert f"À l'attention de {first} {last}, Maire adjoint" in text
    assert "SIRET 21920075500011" in text
    assert_drawn_by_the_embedded_font(reader, pdf)


def test_a_renewal_letter_names_the_accreditation_it_follows(app, db):
    org = entity(db)
    first_req = request_for(db, org, phase=RequestPhase.FAVOURABLE)
    old = accreditation_for(db, org, first_req)
    renewal = request_for(db, org, kind=RequestKind.RENEWAL, renewal_of_id=old.id)
    new = accreditation_for(db, org, renewal, mobile=False, sequence=1)
    new.start_date, new.end_date = date(2031, 3, 10), date(2036, 3, 10)
    with app.test_request_context():
        _reader, text = page_text(decision_letter_pdf(db, new))
    assert f"Renouvellement de l'habilitation {old.number} (fin le 09/03/2031)" in text
    assert "Période d'activité du 10/03/2031 au 10/03/2036" in text
    assert "(renouvellement)" in text
    assert "Plateforme pédagogique mobile Non" in text
    assert "Plateformes pédagogiques fixes" not in text


def test_both_letters_look_like_letters_as_png(app, db, tmp_path):
    """Each letter's page drawn by PDFium (Chromium's reader): A4 portrait, ink at the top
    (the logo) and nothing against the bottom edge; the PNGs are kept in tmp_path to be
    looked at."""
    org = entity(db)
    req = request_for(db, org)
    acc = accreditation_for(db, org, req, platforms=[("Plateforme Ağrı", date(2026, 3, 2))])
    with app.test_request_context(), frozen(DECIDED):
        letters = {
            "engagement": commitment_letter_pdf(db, req),
            "decision": decision_letter_pdf(db, acc),
        }
    for name, pdf in letters.items():
        image = pypdfium2.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("L")
        image.save(tmp_path / f"{name}.png")
        width, height = image.size
        assert abs(width - 595) <= 1 and abs(height - 842) <= 1, "A4 portrait"
        top = image.crop((0, 0, width, height // 8))
        bottom = image.crop((0, height - 30, width, height))
        assert top.getextrema()[0] < 100, f"{name}: the header is drawn"
        assert bottom.getextrema()[0] > 240, f"{name}: nothing runs into the bottom margin"


# --- the decision, stored and e-mailed ----------------------------------------------------------


def test_decision_file_name_keeps_the_number_readable():
    acc = Accreditation(
        number="H67001/2026/SST-1/O/00", start_date=date.today(), end_date=date.today()
    )
    assert decision_file_name(acc) == "Decision_CNH_H67001-2026-SST-1-O-00.pdf"


def gestionnaires(db, org):
    people = []
    for first, last in (("Alice", "MARTIN"), ("Ștefan", "POPESCU")):
        person = factories.person(db, first_name=first, last_name=last)
        factories.grant(db, person, Role.GESTIONNAIRE, organization=org)
        people.append(person)
    left = factories.person(db, first_name="Parti", last_name="AILLEURS")
    grant = factories.grant(db, left, Role.GESTIONNAIRE, organization=org)
    grant.active = False
    db.add(grant)
    other = factories.person(db, first_name="Autre", last_name="ENTITÉ")
    factories.grant(db, other, Role.GESTIONNAIRE, organization=factories.organization(db))
    instructor = factories.person(db, first_name="Ivan", last_name="INSTRUCTEUR")
    factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=factories.fund(db))
    return people


def test_the_decision_letter_reaches_every_gestionnaire_attached(app, db, smtp_server):
    org = entity(db)
    people = gestionnaires(db, org)
    req = request_for(db, org)
    acc = accreditation_for(db, org, req, platforms=[("Plateforme Ağrı", date(2026, 3, 2))])
    with app.test_request_context():
        stored = issue_decision(db, acc)
        db.commit()

    assert acc.decision_letter_file_id == stored.id
    assert stored.name == f"Decision_CNH_H{org.code}-2026-CATEC-1-C-00.pdf"
    assert stored.content_type == "application/pdf"
    letter = get_storage().read(db, stored.id)
    _reader, text = page_text(letter)
    assert acc.number in text

    app.config["SMTP_PORT"] = smtp_server.port
    with app.app_context():
        assert deliver_outbox() == {"sent": 2, "failed": 0}
    by_address = {m["To"]: m for m in smtp_server.messages}
    assert set(by_address) == {p.email for p in people}
    for person in people:
        message = by_address[person.email]
        assert message["Subject"] == f"Forprev : habilitation {acc.number} accordée"
        body = message.get_body(("plain",)).get_content()
        assert body.startswith(f"Bonjour {person.first_name},")
        assert f"Numéro d'habilitation : {acc.number}" in body
        assert "Période d'activité : du 09/03/2026 au 09/03/2031" in body
        assert f"http://forprev.test/habilitations/{acc.id}/general" in body
        assert "Ștefan" not in body or person.first_name == "Ștefan"
        html = message.get_body(("html",)).get_content()
        assert f"<strong>{acc.number}</strong>" in html
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == stored.name
        assert attachment.get_content() == letter


def test_nothing_is_stored_or_sent_when_the_decision_rolls_back(app, db):
    org = entity(db)
    gestionnaires(db, org)
    acc = accreditation_for(db, org, request_for(db, org))
    db.commit()
    with app.test_request_context():
        issue_decision(db, acc)
        db.rollback()
    assert db.exec(select(OutboxEmail)).all() == []
    assert db.exec(select(StoredFile)).all() == []


def test_an_unfavourable_decision_tells_every_gestionnaire_why(app, db, smtp_server):
    org = entity(db)
    people = gestionnaires(db, org)
    req = request_for(db, org, scheme="SST", level=2)
    req.phase = RequestPhase.UNFAVOURABLE
    req.decision_comment = "Les déroulés pédagogiques ne couvrent pas\nla partie prévention."
    with app.test_request_context():
        assert mail_unfavourable_decision(db, req) == 2
        db.commit()
    app.config["SMTP_PORT"] = smtp_server.port
    with app.app_context():
        assert deliver_outbox() == {"sent": 2, "failed": 0}
    assert {m["To"] for m in smtp_server.messages} == {p.email for p in people}
    message = smtp_server.messages[0]
    assert message["Subject"] == (
        "Forprev : décision défavorable sur votre demande d'habilitation SST / 2"
    )
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Les déroulés pédagogiques ne couvrent pas\nla partie prévention." in body
    assert f"demande d'habilitation n° {req.id} de {org.name} (SST / niveau 2)" in body
    assert "nouvelle demande d'habilitation" in body
    assert list(message.iter_attachments()) == []
