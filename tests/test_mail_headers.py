"""E-mail headers are built and folded by the standard library: a long accented subject
arrives exactly as written (one lost a space when folded: "prêtsà télécharger")."""

import email
from email import policy

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from app.domain.mail import queue_email
from app.models import OutboxEmail
from jobs.mail import build_message, deliver_outbox

SUBJECTS = [
    # the subject that lost its space, with the session numbers it had
    "Forprev : Certificats de la session n° 12 prêts à télécharger",
    "Forprev : Certificats de la session n° 1234 prêts à télécharger — MAROSE FORMATION",
    "Forprev : l’habilitation SST de l’organisme « Ça et Là Prévention » arrive à échéance "
    "le 12 décembre : pensez à déposer la demande de renouvellement",
    "Forprev : Rappel — les formateurs Prap-IBC de la région Île-de-France doivent suivre "
    "le stage de maintien et actualisation des compétences avant la fin de l’année",
    "Forprev : é è ê à ù û ô î ç œ É È À Ç é è ê à ù û ô î ç œ É È À Ç é è ê à ù û ô î ç œ",
    "Forprev : " + "Łukasz Woźniak, Ayşe Yılmaz, Ștefan Popescu, Nguyễn Văn An " * 4,
    "Forprev : " + "x" * 120 + " à " + "é" * 60,
    "Forprev : votre compte a été créé",
]

VOCABULARY = (
    "Forprev : la session n° 12 prêts à télécharger l’entité « Ça » — é è ê à ù Île-de-France "
    "habilitation échéance renouvellement formateur Łukasz Nguyễn 2026 ; ! ? x"
)
WORDS = st.sampled_from(VOCABULARY.split())
SUBJECT = st.lists(WORDS, min_size=1, max_size=60).map(" ".join).filter(lambda s: len(s) <= 300)


def _mail(app, subject: str) -> None:
    with app.app_context(), Session(app.extensions["forprev_engine"]) as db:
        queue_email(
            db,
            to="karine@example.fr",
            subject=subject,
            template="notification",
            context={"first_name": "Karine", "message": "x", "link": "/"},
            category="notification",
        )
        db.commit()


def test_long_accented_subjects_arrive_exactly_as_written(app, smtp_server):
    for subject in SUBJECTS:
        _mail(app, subject)
    app.config["SMTP_PORT"] = smtp_server.port
    with app.app_context():
        assert deliver_outbox() == {"sent": len(SUBJECTS), "failed": 0}
    received = [str(m["Subject"]) for m in smtp_server.messages]
    assert received == SUBJECTS


@settings(max_examples=300, deadline=None, database=None)
@given(subject=SUBJECT)
def test_any_subject_is_folded_without_losing_a_character(subject):
    """Headers folded to lines of 78 characters at most, unfolded back to the subject."""
    mail = OutboxEmail(
        message_id="<1@forprev.test>",
        to_address="a@exemple.fr",
        subject=subject,
        text_body="x",
        category="test",
    )
    app = type("App", (), {"config": {"MAIL_FROM": "Forprev <ne-pas-repondre@forprev.test>"}})
    raw = build_message(app, mail).as_bytes()
    head = raw.split(b"\n\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\n")), head
    assert str(email.message_from_bytes(raw, policy=policy.default)["Subject"]) == subject
