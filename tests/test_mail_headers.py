"""E-mail headers are built and folded by the standard library: a long accented subject
arrives exactly as written (one lost a space when folded: "prêtsà télécharger"), and so
does a plain ASCII one of 70 to 77 characters (folded whole onto a line of its own after a
bare "Subject:", it was read back with a leading space)."""

import email
from email import policy

import pytest
from hypothesis import example, given, settings
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
    # a request typed without accents: 75 characters, too long for "Subject: " and its line
    "Demande d'assistance AS-2026-000123 : Probleme de connexion depuis ce matin",
]

VOCABULARY = (
    "Forprev : la session n° 12 prêts à télécharger l’entité « Ça » — é è ê à ù Île-de-France "
    "habilitation échéance renouvellement formateur Łukasz Nguyễn 2026 ; ! ? x"
)
WORDS = st.sampled_from(VOCABULARY.split())
# plain subjects too: a vocabulary mostly accented made an all-ASCII subject a rare draw
ASCII_WORDS = st.sampled_from([w for w in VOCABULARY.split() if w.isascii()])
SUBJECT = (
    st.one_of(
        st.lists(WORDS, min_size=1, max_size=60), st.lists(ASCII_WORDS, min_size=1, max_size=60)
    )
    .map(" ".join)
    .filter(lambda s: len(s) <= 300)
)


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


def _folded(subject: str) -> tuple[bytes, str]:
    """The head of the e-mail built for `subject`, and the subject a reader gets from it."""
    mail = OutboxEmail(
        message_id="<1@forprev.test>",
        to_address="a@exemple.fr",
        subject=subject,
        text_body="x",
        category="test",
    )
    app = type("App", (), {"config": {"MAIL_FROM": "Forprev <ne-pas-repondre@forprev.test>"}})
    raw = build_message(app, mail).as_bytes()
    return raw.split(b"\n\n", 1)[0], str(
        email.message_from_bytes(raw, policy=policy.default)["Subject"]
    )


@settings(max_examples=300, deadline=None, database=None)
@given(subject=SUBJECT)
@example(subject="Forprev Forprev Forprev Forprev Forprev Forprev Forprev renouvellement")
def test_any_subject_is_folded_without_losing_a_character(subject):
    """Headers folded to lines of 78 characters at most, unfolded back to the subject."""
    head, received = _folded(subject)
    assert all(len(line) <= 78 for line in head.split(b"\n")), head
    assert received == subject


@pytest.mark.parametrize("length", range(60, 90))
def test_a_plain_subject_of_any_length_around_a_line_arrives_as_written(length):
    """ "Subject: " leaves 69 characters on its line: a plain subject of 70 to 77 characters
    was moved whole to the next line, after a bare "Subject:", and read back as " Forprev…"
    (the standard library's parser in Python 3.11, CPython gh-124452, and other readers keep
    that folded space); the first word stays on the "Subject:" line."""
    subject = ("Forprev " * 12)[: length - 1] + "x"
    assert len(subject) == length
    head, received = _folded(subject)
    assert received == subject
    assert not any(line.rstrip() == b"Subject:" for line in head.split(b"\n")), head
    assert all(len(line) <= 78 for line in head.split(b"\n")), head
