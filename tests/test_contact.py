"""The contact form and the support's "Demandes d'assistance": a request is stored with its
reference, mailed to every administrator and acknowledged to its sender (through a real
SMTP server), bad input is named next to its field with the rest kept, senders are
throttled, an administrator answers (mail + dashboard) or closes, and the daily purge
deletes a request after a year."""

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from app.clock import frozen, utcnow
from app.domain.contact_requests import give_reference
from app.models import AuditEvent, ContactRequest, Notification, OutboxEmail
from app.models.people import Role
from jobs.mail import deliver_outbox
from jobs.purge import purge_expired
from tests import factories
from tests.conftest import csrf_token

WORDS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]
MESSAGE = "Bonjour,\nje ne retrouve pas mon numéro Forprev.\nMerci."


def _text(response) -> str:
    return response.get_data(as_text=True)


def _robot_answer(html: str) -> str:
    a, b = re.search(r"Combien font (\S+) plus (\S+) \?", html).groups()
    return str(WORDS.index(a) + WORDS.index(b))


def _send(client, *, answer_robot=True, **changes):
    html = _text(client.get("/aide/contact"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    data = {"subject": "Mon compte", "email": "visiteur@exemple.fr", "message": MESSAGE}
    if answer_robot:
        data["robot"] = _robot_answer(html)
    data.update(changes)
    data["csrf_token"] = token
    return client.post("/aide/contact", data={k: v for k, v in data.items() if v is not None})


def _field_error(response, name: str) -> str | None:
    match = re.search(
        rf'<p class="error" id="{name}-erreur" role="alert">([^<]*)</p>', _text(response)
    )
    return match.group(1).replace("&#39;", "'") if match else None


def _admins(db):
    admins = []
    for email in ("ada@exemple.fr", "bob@exemple.fr"):
        admin = factories.person(db, email=email)
        factories.grant(db, admin, Role.ADMINISTRATEUR)
        admins.append(admin)
    retired = factories.person(db, email="ancien@exemple.fr", active=False)
    factories.grant(db, retired, Role.ADMINISTRATEUR)
    return admins


def _deliver(app, smtp_server) -> list:
    with app.app_context():
        app.config["SMTP_PORT"] = smtp_server.port
        deliver_outbox()
    return smtp_server.messages


def _body(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_an_anonymous_visitor_writes_and_support_and_visitor_get_mails(
    app, client, db, smtp_server
):
    _admins(db)
    db.commit()
    html = _text(client.get("/aide/contact"))
    assert "Combien font" in html, "the anti-robot question is asked when not logged in"
    for subject in ("Mon compte", "Mon entité", "Habilitation", "Certificats", "Autre"):
        assert f'<option value="{subject}">{subject}</option>' in html

    response = _send(client)
    assert response.status_code == 200
    row = db.exec(select(ContactRequest)).one()
    assert re.fullmatch(rf"AS-{utcnow().year}-\d{{6}}", row.reference)
    assert f"<strong>{row.reference}</strong>" in _text(response)
    assert (row.person_id, row.email, row.subject, row.status) == (
        None,
        "visiteur@exemple.fr",
        "Mon compte",
        "ouverte",
    )
    assert row.message == MESSAGE.replace("\n", "\r\n") or row.message == MESSAGE

    messages = _deliver(app, smtp_server)
    by_to = {m["To"]: m for m in messages}
    assert set(by_to) == {"ada@exemple.fr", "bob@exemple.fr", "visiteur@exemple.fr"}
    support = by_to["ada@exemple.fr"]
    assert support["Subject"] == f"Demande d'assistance {row.reference} : Mon compte"
    assert "je ne retrouve pas mon numéro Forprev." in _body(support)
    assert f"http://forprev.test/aide/demandes/{row.id}" in _body(support)
    receipt = by_to["visiteur@exemple.fr"]
    assert row.reference in receipt["Subject"]
    assert f"Son numéro est {row.reference}" in _body(receipt)


def test_a_logged_in_person_has_their_address_filled_in_and_no_question(
    app, client, db, login_as, smtp_server
):
    _admins(db)
    person = factories.person(db, email="karine@exemple.fr", first_name="Karine")
    factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    login_as(person)
    html = _text(client.get("/aide/contact"))
    assert 'value="karine@exemple.fr"' in html
    assert "Combien font" not in html
    response = _send(client, answer_robot=False, email="karine@exemple.fr", subject="Certificats")
    assert response.status_code == 200
    row = db.exec(select(ContactRequest)).one()
    assert row.person_id == person.id
    receipt = next(m for m in _deliver(app, smtp_server) if m["To"] == "karine@exemple.fr")
    assert _body(receipt).startswith("Bonjour Karine,")
    assert row.reference in _body(receipt)
    assert "sur votre tableau de bord" in _body(receipt)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"message": ""}, "message", "Écrivez votre message."),
        (
            {"message": "x" * 20000},
            "message",
            "Votre message ne doit pas dépasser 5 000 caractères.",
        ),
        (
            {"robot": "99"},
            "robot",
            "Ce n'est pas la bonne réponse : répondez à la nouvelle question.",
        ),
        ({"robot": ""}, "robot", "Répondez à la question, en chiffres."),
        ({"subject": ""}, "subject", "Choisissez le sujet de votre demande."),
        ({"subject": "Piratage"}, "subject", "Choisissez le sujet de votre demande dans la liste."),
        (
            {"email": "pas-une-adresse"},
            "email",
            "Saisissez une adresse e-mail valide, par exemple marie.dupont@exemple.fr.",
        ),
    ],
)
def test_bad_input_is_named_the_rest_kept_and_nothing_stored(client, db, changes, field, message):
    response = _send(client, **changes)
    assert response.status_code == 422
    assert _field_error(response, field) == message
    html = _text(response)
    if field != "email":
        assert 'value="visiteur@exemple.fr"' in html
    if field != "message":
        assert "je ne retrouve pas mon numéro Forprev." in html
    if "message" in changes and changes["message"]:
        assert changes["message"] in html, "the long message is given back, not cut"
    if field != "subject":
        assert '<option selected value="Mon compte">' in html
    assert db.exec(select(ContactRequest)).all() == []
    assert db.exec(select(OutboxEmail)).all() == []


def test_senders_are_throttled_per_address_and_per_account(app, client, db, login_as):
    for _ in range(5):
        assert _send(client).status_code == 200
    refused = _send(client)
    assert refused.status_code == 429
    assert "Trop de tentatives. Réessayez dans" in _text(refused)
    assert MESSAGE.split("\n")[1] in _text(refused), "the message is kept"
    assert len(db.exec(select(ContactRequest)).all()) == 5

    # another address is not blocked; one account is, whatever its address
    person = factories.person(db, email="karine@exemple.fr")
    factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    from tests.conftest import AuthActions

    assert AuthActions(other).login(person.email).status_code == 302
    for n in range(5):
        other.environ_base["REMOTE_ADDR"] = f"10.0.1.{n}"
        assert _send(other, answer_robot=False).status_code == 200
    other.environ_base["REMOTE_ADDR"] = "10.0.2.1"
    assert _send(other, answer_robot=False).status_code == 429

    # an hour later, both may write again
    with frozen(utcnow() + timedelta(hours=1, minutes=1)):
        assert _send(client).status_code == 200
        again = app.test_client()
        again.environ_base["REMOTE_ADDR"] = "10.0.2.1"
        assert AuthActions(again).login(person.email).status_code == 302
        assert _send(again, answer_robot=False).status_code == 200


def _request(db, *, person=None, email="visiteur@exemple.fr", created_at=None):
    row = ContactRequest(
        person_id=person.id if person else None,
        email=person.email if person else email,
        subject="Habilitation",
        message="Quand mon habilitation finit-elle ?",
        **({"created_at": created_at} if created_at else {}),
    )
    give_reference(db, row)
    db.commit()
    return row


def _admin_client(app, db, admin):
    from tests.conftest import AuthActions

    client = app.test_client()
    assert AuthActions(client).login(admin.email).status_code == 302
    return client


def test_an_administrator_answers_the_mail_and_the_dashboard_carry_it(
    app, db, smtp_server, login_as, client
):
    admin = _admins(db)[0]
    sender = factories.person(db, email="karine@exemple.fr", first_name="Karine")
    factories.grant(db, sender, Role.FORMATEUR)
    db.commit()
    row = _request(db, person=sender)
    support = _admin_client(app, db, admin)

    listing = _text(support.get("/aide/demandes?etat=ouverte"))
    assert row.reference in listing
    assert "Demandes d&#39;assistance" in listing or "Demandes d'assistance" in listing
    assert row.reference not in _text(support.get("/aide/demandes?etat=fermee"))
    page = _text(support.get(f"/aide/demandes/{row.id}"))
    assert "Quand mon habilitation finit-elle ?" in page and "karine@exemple.fr" in page

    empty = support.post(
        f"/aide/demandes/{row.id}/repondre",
        data={"answer": "", "csrf_token": csrf_token(support, "/aide/demandes")},
    )
    assert empty.status_code == 422
    assert _field_error(empty, "answer") == "Écrivez votre réponse."

    token = csrf_token(support, "/aide/demandes")
    answer = "Votre habilitation finit le 31/12/2027.\nElle est visible dans « Habilitations »."
    response = support.post(
        f"/aide/demandes/{row.id}/repondre", data={"answer": answer, "csrf_token": token}
    )
    assert response.status_code == 302
    db.refresh(row)
    assert (row.status, row.answered_by_id) == ("repondue", admin.id)
    assert row.answer.replace("\r\n", "\n") == answer
    # a second answer (another administrator, a stale page) is a conflict, not a new mail
    again = support.post(
        f"/aide/demandes/{row.id}/repondre", data={"answer": "Encore", "csrf_token": token}
    )
    assert again.status_code == 409
    assert "a déjà reçu une réponse" in _text(again)

    mail = next(m for m in _deliver(app, smtp_server) if m["To"] == "karine@exemple.fr")
    assert row.reference in mail["Subject"]
    assert "Votre habilitation finit le 31/12/2027." in _body(mail)
    assert len([m for m in smtp_server.messages if m["To"] == "karine@exemple.fr"]) == 1

    login_as(sender)
    board = _text(client.get("/"))
    title = f"Le support a répondu à votre demande d&#39;assistance {row.reference}"
    assert title in board.replace("'", "&#39;")
    assert f'href="/aide/demandes/{row.id}"' in board
    seen = _text(client.get(f"/aide/demandes/{row.id}"))
    assert "Votre habilitation finit le 31/12/2027." in seen
    assert "Envoyer la réponse" not in seen and "Fermer la demande" not in seen
    task = db.exec(select(Notification).where(Notification.person_id == sender.id)).one()
    db.refresh(task)
    assert task.done_at is not None, "read: the task leaves the dashboard"
    actions = db.exec(
        select(AuditEvent.action).where(
            AuditEvent.object_type == "contact_request", AuditEvent.object_id == row.id
        )
    ).all()
    assert actions == ["contact_request.answered"]


def test_an_anonymous_request_answered_by_mail_only_and_closed(app, db, smtp_server):
    admin = _admins(db)[0]
    db.commit()
    row = _request(db)
    support = _admin_client(app, db, admin)
    token = csrf_token(support, "/aide/demandes")
    assert (
        support.post(
            f"/aide/demandes/{row.id}/repondre", data={"answer": "C'est noté.", "csrf_token": token}
        ).status_code
        == 302
    )
    assert db.exec(select(Notification)).all() == []
    assert [m["To"] for m in _deliver(app, smtp_server)] == ["visiteur@exemple.fr"]

    response = support.post(f"/aide/demandes/{row.id}/fermer", data={"csrf_token": token})
    assert response.status_code == 302
    db.refresh(row)
    assert row.status == "fermee" and row.closed_at is not None
    assert "Fermée" in _text(support.get(f"/aide/demandes/{row.id}"))
    assert row.reference in _text(support.get("/aide/demandes?etat=fermee"))
    closed_again = support.post(f"/aide/demandes/{row.id}/fermer", data={"csrf_token": token})
    assert closed_again.status_code == 409
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "contact_request.closed")).one()
    assert (event.actor_id, event.from_state, event.to_state) == (admin.id, "repondue", "fermee")


def test_others_cannot_see_or_answer_a_request(app, db, client, login_as):
    admin = _admins(db)[0]
    sender = factories.person(db, email="karine@exemple.fr")
    factories.grant(db, sender, Role.FORMATEUR)
    outsider = factories.person(db, email="autre@exemple.fr")
    factories.grant(db, outsider, Role.INSTRUCTEUR, fund_=factories.fund(db))
    db.commit()
    row = _request(db, person=sender)
    assert admin
    login_as(outsider)
    token = csrf_token(client, "/")
    assert client.get("/aide/demandes").status_code == 403
    assert client.get(f"/aide/demandes/{row.id}").status_code == 404
    assert (
        client.post(
            f"/aide/demandes/{row.id}/repondre", data={"answer": "x", "csrf_token": token}
        ).status_code
        == 403
    )
    assert (
        client.post(f"/aide/demandes/{row.id}/fermer", data={"csrf_token": token}).status_code
        == 403
    )
    assert "Demandes d&#39;assistance" not in _text(client.get("/"))
    db.refresh(row)
    assert row.status == "ouverte"


def test_the_daily_purge_deletes_a_request_after_365_days_and_not_before(app, db):
    row = _request(db)
    audit = AuditEvent(
        actor_id=None,
        action="contact_request.sent",
        object_type="contact_request",
        object_id=row.id,
        data={"reference": row.reference},
    )
    db.add(audit)
    db.commit()
    sent = row.created_at
    with app.app_context(), frozen(sent + timedelta(days=364, hours=23)):
        purge_expired()
    assert db.get(ContactRequest, row.id) is not None
    with app.app_context(), frozen(sent + timedelta(days=365, minutes=1)):
        purge_expired()
    assert db.exec(select(ContactRequest.id)).all() == []
    db.refresh(audit)
    assert (audit.object_id, audit.data) == (None, {})
