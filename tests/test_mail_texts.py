"""What the e-mails say: a trainer's account made when they are certified tells them why."""

from datetime import date

from sqlmodel import select

from app.domain.accounts import create_admin
from app.domain.certificate_issue import issue_certificates
from app.domain.mail import mail_if_opted_in
from app.models import OutboxEmail
from app.models.people import Role
from jobs.mail import deliver_outbox
from tests import factories


def test_the_account_created_mail_says_which_certificate_made_it(app, db, smtp_server):
    org = factories.organization(db, name="MAROSE FORMATION")
    acc = factories.accreditation(db, org, scheme_code="SST", level=2)
    manager = factories.person(db, email="karine@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    trainer = factories.person(db, email="t@exemple.fr")
    factories.grant(db, trainer, Role.FORMATEUR)
    cs = factories.closed_session(
        db,
        org=org,
        acc=acc,
        trainer=trainer,
        creator=manager,
        trainees=[("NOUVEAU", "Jean", date(1988, 5, 5), True)],
        emails=["jean@exemple.fr"],
    )
    db.commit()
    with app.app_context():
        issue_certificates(db, cs)
        create_admin(db, email="admin@exemple.fr", first_name="Ada", last_name="Min")
        db.commit()
        app.config["SMTP_PORT"] = smtp_server.port
        assert deliver_outbox() == {"sent": 2, "failed": 0}
    why = (
        "Vous avez obtenu le « Certificat de formateur SST » lors de la session "
        f"n° {cs.id} de MAROSE FORMATION."
    )
    mails = {m["To"]: m for m in smtp_server.messages}
    jean = mails["jean@exemple.fr"]
    assert str(jean["Subject"]) == "Forprev : votre compte a été créé"
    text = jean.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith(f"Bonjour Jean,\n\n{why}\nUn compte Forprev a donc été créé pour vous")
    assert why in jean.get_body(("html",)).get_content()
    row = db.exec(select(OutboxEmail).where(OutboxEmail.to_address == "jean@exemple.fr")).one()
    assert "/mot-de-passe/nouveau/" in row.text_body

    # an account made by hand (flask create-admin) gives no such reason
    admin = mails["admin@exemple.fr"].get_body(("plain",)).get_content()
    assert "Un compte Forprev a été créé pour vous." in admin
    assert "Vous avez obtenu" not in admin


def test_a_notification_quoting_a_long_comment_has_a_short_subject_and_the_whole_text(
    app, db, smtp_server
):
    """A refusal quoting a long comment made a subject longer than the outbox column (a 500
    on PostgreSQL): the subject is cut at a word, the body keeps it all."""
    person = factories.person(db, email="karine@exemple.fr")
    person.notify_notifications = True
    db.commit()
    comment = " ".join(["justificatif"] * 40)  # 519 characters
    message = f"La modification des données de MAROSE FORMATION est refusée : {comment}"
    with app.app_context():
        assert mail_if_opted_in(
            db, person, category="notification", message=message, link="/entite/"
        )
        db.commit()
        app.config["SMTP_PORT"] = smtp_server.port
        assert deliver_outbox() == {"sent": 1, "failed": 0}
    subject = str(smtp_server.messages[0]["Subject"])
    assert len(subject) <= 300 and subject.endswith("justificatif…")
    assert subject.startswith("Forprev : La modification des données de MAROSE FORMATION")
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert comment in " ".join(body.split())
