"""What the 15-day purge leaves behind: a number never given to another session, a
history tied to nothing, and no task or alert that leads to a page that is gone."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.clock import frozen, utcnow
from app.domain.audit import record_event
from app.domain.purge import purge_due
from app.models import Alert, AuditEvent, Notification
from tests import factories
from tests.test_certificates import TRAINEES, _closed, _generate, _login, make_setting

COMMENT = "Corrigez la date de naissance de Paul DURAND"


@pytest.fixture
def setting(db):
    return make_setting(db)


def _history(db, cs, actor):
    for action, comment in (
        ("cert_session.created", None),
        ("cert_session.returned", COMMENT),
        ("cert_session.closed", None),
    ):
        record_event(
            db,
            actor_id=actor.id,
            action=action,
            object_type="cert_session",
            object_id=cs.id,
            comment=comment,
        )
    db.commit()


def test_a_purged_sessions_number_is_never_given_again(app, db, setting):
    start = utcnow()
    with frozen(start):
        purged = _closed(db, setting)
        _history(db, purged, setting.manager)
        _generate(app, purged.id)
    with frozen(start + timedelta(days=15)):
        assert purge_due(db) == 1
        later = _closed(db, setting, trainees=TRAINEES[:1])
        assert later.id > purged.id, "the purged session's number was given again"
        client = _login(app, "karine@exemple.fr")
        page = client.get(f"/sessions/{later.id}/historique").get_data(as_text=True)
    assert "Paul DURAND" not in page and "Retour commenté" not in page
    # the history stays as who did what and when, tied to no session, its comment gone
    events = db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.object_id, e.comment, e.actor_id) for e in events] == [
        ("cert_session.created", None, None, setting.manager.id),
        ("cert_session.returned", None, None, setting.manager.id),
        ("cert_session.closed", None, None, setting.manager.id),
    ]


def test_the_purge_closes_the_tasks_and_alerts_that_lead_to_the_session(app, db, setting):
    start = utcnow()
    with frozen(start):
        cs = _closed(db, setting)
        _generate(app, cs.id)  # "Certificats de la session n° … prêts", not ticked downloaded
        other = factories.accreditation(db, setting.org, scheme_code="SST", level=2)
        for key, message, link in (
            (f"session-{cs.id}", f"La session n° {cs.id} arrive au bout", f"/sessions/{cs.id}"),
            (f"acc-6-{other.id}", "Votre habilitation SST / 2 prend fin", "/habilitations/"),
        ):
            db.add(
                Alert(
                    person_id=setting.manager.id,
                    key=key,
                    kind="test",
                    message=message,
                    link=link,
                )
            )
        db.commit()
        client = _login(app, "karine@exemple.fr")
        dashboard = client.get("/").get_data(as_text=True)
        assert f"Certificats de la session n° {cs.id} prêts" in dashboard
        assert f"La session n° {cs.id} arrive au bout" in dashboard
        assert "(3 à traiter)" in client.get("/compteurs").get_data(as_text=True)
    with frozen(start + timedelta(days=15)):
        assert purge_due(db) == 1
        client = _login(app, "karine@exemple.fr")
        dashboard = client.get("/").get_data(as_text=True)
        counter = client.get("/compteurs").get_data(as_text=True)
    assert f"session n° {cs.id}" not in dashboard
    assert "Votre habilitation SST / 2 prend fin" in dashboard, "other alerts stay"
    assert "(1 à traiter)" in counter
    db.expire_all()
    assert all(task.done_at for task in db.exec(select(Notification)).all())
