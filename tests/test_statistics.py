"""Statistiques (SPEC §9): every figure comes from the anonymous counters, equals the counts
of the sessions closed — before and after the purge —, counts a session once however many
times it is closed, generated or purged, and each role sees its own scope only; bad
filters are ignored, never widening the scope; the CSV and the SVG show the table's
numbers."""

import csv
import html
import io
import re
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlmodel import select

from app.clock import frozen, utcnow
from app.domain import statistics as stats
from app.domain.access import ActiveRole
from app.domain.cert_session_flow import generate
from app.domain.purge import purge_due
from app.models import CertSession, StatCounter
from app.models.cert_sessions import SessionState
from app.models.people import Role
from jobs.certificates import generate_certificates
from tests import factories

P, F = True, False
# (entity, place, dispositif, level, MAC, end date, results) — the fixture population
SESSIONS = [
    ("a", "67000", "SST", 1, False, date(2025, 3, 10), [P, P, F]),
    ("a", "67000", "SST", 1, True, date(2025, 5, 2), [P]),
    ("a", "75011", "PRAP-IBC", 1, False, date(2026, 5, 20), [P, F]),
    ("a2", "68100", "SST", 1, False, date(2026, 1, 15), [P, P]),
    ("b", "75011", "SST", 1, False, date(2026, 2, 3), [P, F, F]),
]
DEPARTMENT_FUND = {"67": "a", "68": "a", "75": "b"}  # Alsace-Moselle is "a", CRAMIF "b"


class Population:
    pass


@pytest.fixture
def population(db):
    w = Population()
    w.orgs = {
        "a": factories.organization(db, name="MAROSE FORMATION"),
        "a2": factories.organization(db, name="MULHOUSE SECOURS", postal_code="68100"),
        "b": factories.organization(
            db, name="FORMATION PARIS", postal_code="75011", fund_code="CRAMIF"
        ),
    }
    w.trainer = factories.person(db, first_name="Stéphanie", email="t@exemple.fr")
    factories.grant(db, w.trainer, Role.FORMATEUR)
    w.managers = {}
    for key, org in w.orgs.items():
        manager = factories.person(db, email=f"gestion-{key}@exemple.fr")
        w.managers[key] = factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    w.instructors = {}
    for key, code in (("a", "ALSACE-MOSELLE"), ("b", "CRAMIF")):
        instructor = factories.person(db, email=f"instruction-{key}@exemple.fr")
        w.instructors[key] = factories.grant(
            db, instructor, Role.INSTRUCTEUR, fund_=factories.fund(db, code)
        )
    admin = factories.person(db, email="admin@exemple.fr")
    w.admin = factories.grant(db, admin, Role.ADMINISTRATEUR)
    accreditations = {}
    w.sessions = []
    for key, postal_code, scheme, level, mac, end, results in SESSIONS:
        org = w.orgs[key]
        if (key, scheme) not in accreditations:
            accreditations[key, scheme] = factories.accreditation(
                db, org, scheme_code=scheme, level=level, start=date(2024, 1, 1)
            )
        cs = factories.closed_session(
            db,
            org=org,
            acc=accreditations[key, scheme],
            trainer=w.trainer,
            creator=w.trainer,
            trainees=[
                (f"NOM{i}", "Prénom", date(1990, 1, 1), passed) for i, passed in enumerate(results)
            ],
            end=end,
        )
        cs.postal_code, cs.is_refresher = postal_code, mac
        db.add(cs)
        w.sessions.append(cs.id)
    db.commit()
    return w


def _role(db, grant) -> ActiveRole:
    from app.domain.access import grants_of

    return next(r for r in grants_of(db, grant.person_id) if r.grant_id == grant.id)


def _expected(keep) -> dict:
    """The counts of the sessions `keep` accepts, computed from the population itself."""
    out = {k: Counter() for k in ("annees", "departements", "dispositifs", "initial-mac")}
    out["sessions-mois"] = Counter()
    for key, postal_code, scheme, level, mac, end, results in SESSIONS:
        if not keep(key, postal_code[:2]):
            continue
        passed, failed = results.count(P), results.count(F)
        for slug, label in (
            ("annees", str(end.year)),
            ("departements", postal_code[:2]),
            ("dispositifs", f"{scheme} niveau {level}"),
            ("initial-mac", "MAC" if mac else "Formation initiale"),
        ):
            out[slug][label, 0] += passed
            out[slug][label, 1] += failed
        out["sessions-mois"][f"{end:%m/%Y}", 0] += 1
    return out


def _actual(result: stats.Statistics) -> dict:
    out = {}
    for figure in result.figures:
        if figure.slug in ("taux", "caisses"):
            continue
        out[figure.slug] = Counter(
            {(label, i): v for label, values in figure.rows for i, v in enumerate(values) if v}
        )
    return out


SCOPES = {
    "administrateur": (lambda w: w.admin, lambda org, dep: True),
    "instructeur Alsace-Moselle": (
        lambda w: w.instructors["a"],
        lambda org, dep: DEPARTMENT_FUND[dep] == "a",
    ),
    "instructeur CRAMIF": (
        lambda w: w.instructors["b"],
        lambda org, dep: DEPARTMENT_FUND[dep] == "b",
    ),
    "gestionnaire MAROSE": (lambda w: w.managers["a"], lambda org, dep: org == "a"),
    "gestionnaire PARIS": (lambda w: w.managers["b"], lambda org, dep: org == "b"),
}


def _generate_all(app, population):
    with app.app_context():
        for cs_id in population.sessions:
            generate_certificates(cs_id)


def _figures(db, grant, **args):
    role = _role(db, grant)
    return stats.statistics(db, role, stats.parse_filters(db, role, args))


def test_statistics_equal_the_closed_sessions_before_and_after_the_purge(app, db, population):
    start = utcnow()
    with frozen(start):
        assert _figures(db, population.admin).total_sessions == 0
        _generate_all(app, population)
        _generate_all(app, population)  # the job run twice counts nothing more
        db.expire_all()
        before = {}
        for name, (grant, keep) in SCOPES.items():
            result = _figures(db, grant(population))
            assert _actual(result) == _expected(lambda org, dep, k=keep: k(org, dep)), name
            before[name] = result.figures
    counters = db.exec(select(StatCounter)).all()
    for national, whole_year in ((True, True), (True, False), (False, True), (False, False)):
        counted = sum(
            c.sessions
            for c in counters
            if (c.organization_id == 0) == national and (c.month == 0) == whole_year
        )
        assert counted == len(SESSIONS), "every session counted once"
    with frozen(start + timedelta(days=15)):
        assert purge_due(db) == len(SESSIONS)
    assert db.exec(select(CertSession)).all() == []
    for name, (grant, _) in SCOPES.items():
        assert _figures(db, grant(population)).figures == before[name], name
    national = _figures(db, population.admin)
    caisses = national.figure("caisses").rows
    assert [values for _, values in caisses] == [[5, 1], [2, 3]]
    assert caisses[0][0] == "Carsat Alsace-Moselle"
    assert national.figure("taux").rows == [("2025", [75.0]), ("2026", [57.1])]
    months = dict(national.figure("sessions-mois").rows)
    assert months["03/2025"] == [1] and months["04/2025"] == [0] and months["05/2026"] == [1]
    assert len(months) == 15, "every month from 03/2025 to 05/2026, those without at 0"


def test_a_session_is_counted_once_at_closing_then_never_again(app, db, population):
    cs = db.get(CertSession, population.sessions[0])
    cs.state, cs.closed_at, cs.purge_after = SessionState.ENTITY, None, None
    db.add(cs)
    db.commit()
    manager = _role(db, population.managers["a"])
    with app.test_request_context():
        generate(db, manager, cs, cs.version)
        db.commit()
    counters = db.exec(
        select(StatCounter).order_by(StatCounter.organization_id, StatCounter.month)
    ).all()
    org = population.orgs["a"].id
    assert [(c.organization_id, c.month) for c in counters] == [(0, 0), (0, 3), (org, 0), (org, 3)]
    for counter in counters:
        assert (counter.sessions, counter.successes, counter.failures) == (1, 2, 1)
        assert (counter.year, counter.department_code) == (2025, "67")
    db.refresh(cs)
    assert cs.counted_at is not None
    assert stats.count_session(db, cs) is False
    db.rollback()
    _generate_all(app, type("P", (), {"sessions": [cs.id]}))
    with frozen(utcnow() + timedelta(days=15)):
        purge_due(db)
    db.expire_all()
    counters = db.exec(
        select(StatCounter).where(StatCounter.year == 2025, StatCounter.month == 3)
    ).all()
    assert [(c.sessions, c.successes, c.failures) for c in counters] == [(1, 2, 1)] * 2
    year_2025 = db.exec(
        select(StatCounter.sessions).where(StatCounter.year == 2025, StatCounter.month == 0)
    ).all()
    assert sum(year_2025) == 4, "the two 2025 sessions, each for all entities and entity A"


def test_a_purge_counts_a_session_never_counted_before(db, population):
    with frozen(utcnow() + timedelta(days=15)):
        assert purge_due(db) == len(SESSIONS)
    result = _figures(db, population.admin)
    assert _actual(result) == _expected(lambda org, dep: True)


@pytest.mark.parametrize(
    "args, message",
    [
        ({"annee_debut": "0"}, "L'année de début « 0 » n'est pas une année"),
        ({"annee_fin": "1999"}, "L'année de fin « 1999 » n'est pas une année"),
        ({"annee_debut": "deux mille"}, "n'est pas une année entre 2000"),
        ({"dispositif": "XYZ"}, "Le dispositif « XYZ » est inconnu"),
        ({"niveau": "9"}, "Le niveau « 9 » n'existe pas"),
        ({"region": "b"}, "filtre de caisse ignoré"),
    ],
)
def test_bad_filters_are_ignored_and_said(db, population, args, message):
    _generate_all_direct(db, population)
    role = _role(db, population.instructors["a"])
    filters = stats.parse_filters(db, role, args)
    assert any(message in m for m in filters.ignored), filters.ignored
    assert _actual(stats.statistics(db, role, filters)) == _expected(
        lambda org, dep: DEPARTMENT_FUND[dep] == "a"
    )


def _generate_all_direct(db, population):
    for cs_id in population.sessions:
        stats.count_session(db, db.get(CertSession, cs_id))
    db.commit()


def test_a_region_filter_never_shows_another_region(db, population):
    _generate_all_direct(db, population)
    cramif = population.instructors["b"].fund_id
    alsace = population.instructors["a"].fund_id
    instructor = _role(db, population.instructors["a"])
    filters = stats.parse_filters(db, instructor, {"region": str(cramif)})
    assert filters.fund_id is None and filters.ignored
    result = stats.statistics(db, instructor, filters)
    assert set(dict(result.figure("departements").rows)) == {"67", "68"}
    manager = _role(db, population.managers["a"])
    filters = stats.parse_filters(db, manager, {"region": str(cramif)})
    assert dict(stats.statistics(db, manager, filters).figure("departements").rows) == {
        "67": [3, 1],
        "75": [1, 1],
    }, "the entity's own sessions, wherever they took place"
    admin = _role(db, population.admin)
    filters = stats.parse_filters(db, admin, {"region": str(alsace), "annee_debut": "2026"})
    assert filters.ignored == ()
    result = stats.statistics(db, admin, filters)
    assert dict(result.figure("departements").rows) == {"68": [2, 0]}
    filters = stats.parse_filters(db, admin, {"region": "999999"})
    assert filters.fund_id is None and "Cette caisse n'existe pas" in filters.ignored[0]


def test_the_page_for_each_role_its_svg_its_tables_and_csv(app, db, population, login_as):
    _generate_all_direct(db, population)
    client = login_as(db.get(type(population.trainer), population.instructors["a"].person_id))
    page = client.get("/statistiques?dispositif=SST").get_data(as_text=True)
    assert "Statistiques" in page and 'data-hx-push-url="true"' in page
    section = page[page.index('id="figure-departements"') :]
    section = section[: section.index("</section>")]
    svg = section[section.index("<svg") : section.index("</svg>")]
    table = section[section.index("<table") : section.index("</table>")]
    # SST only, Alsace-Moselle's departments: 67 (2 + 1 MAC certified, 1 failed), 68 (2, 0)
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title>', svg)
    assert bars == [
        "67 — Certifiés : 3",
        "67 — Échecs : 1",
        "68 — Certifiés : 2",
        "68 — Échecs : 0",
    ]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>((?:<td[^>]*>[^<]*</td>)+)</tr>', table)
    assert [(label, re.findall(r">([^<]*)</td>", cells)) for label, cells in rows] == [
        ("67", ["3", "1"]),
        ("68", ["2", "0"]),
    ]
    assert 'viewBox="0 0 400' in svg and 'width="100%"' in svg
    assert "<caption>Stagiaires par département</caption>" in table
    assert "75" not in [label for label, _ in rows]
    link = "/statistiques/departements.csv?dispositif=SST"
    assert link in page
    response = client.get(link)
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    read = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert read == [["Département", "Certifiés", "Échecs"], ["67", "3", "1"], ["68", "2", "0"]]
    rate = client.get("/statistiques/taux.csv").data.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(rate), delimiter=";")) == [
        ["Année", "Taux de réussite (%)"],
        ["2025", "75,0"],
        ["2026", "100,0"],
    ]
    assert client.get("/statistiques/inconnu.csv").status_code == 404
    fragment = client.get("/statistiques?annee_debut=0", headers={"HX-Request": "true"})
    text = html.unescape(fragment.get_data(as_text=True))
    assert "<h1" not in text and "L'année de début « 0 »" in text and "<svg" in text


def test_the_gestionnaire_sees_its_entity_and_others_are_refused(
    app, db, population, login_as, auth
):
    _generate_all_direct(db, population)
    Person = type(population.trainer)
    client = login_as(db.get(Person, population.managers["b"].person_id))
    page = client.get("/statistiques").get_data(as_text=True)
    assert "FORMATION PARIS" in page and 'id="region"' not in page
    read = list(
        csv.reader(
            io.StringIO(client.get("/statistiques/annees.csv").data.decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert read == [["Année", "Certifiés", "Échecs"], ["2026", "1", "2"]]
    auth.logout()
    trainer = login_as(population.trainer)
    assert trainer.get("/statistiques").status_code == 403
    assert trainer.get("/statistiques/annees.csv").status_code == 403
