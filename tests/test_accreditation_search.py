"""The "Habilitations" search by entity name compares `Organization.name_folded`, the
name folded once when it is written (app/text.py): every way a name is written keeps it
(the ORM, the entity request's bulk UPDATE, the caisse accepting a change, the demo, the
migration for the rows already there), and the search finds what the name says. On
PostgreSQL the search and a far page read only the rows they show, through indexes,
whatever the number of accreditations."""

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from app.cli import upgrade_database
from app.clock import today
from app.domain import accreditation_admin as admin
from app.domain.access import ActiveRole
from app.domain.organization_instruction import accept_change
from app.extensions import make_engine
from app.models import Accreditation, Organization, OrganizationChange
from app.models.people import Role
from app.text import fold
from seeds.demo import load_demo
from tests import factories
from tests.conftest import is_postgres
from tests.test_entity_requests import create_draft, post, step1


@pytest.fixture
def demandeur(db):
    person = factories.person(db, first_name="Christine", last_name="MARTIN")
    factories.grant(db, person, Role.DEMANDEUR)
    db.commit()
    return person


@pytest.fixture
def client_d(login_as, demandeur):
    return login_as(demandeur)


def _folded_in_database(db, organization_id: int) -> str:
    db.expire_all()
    return db.exec(select(Organization.name_folded).where(Organization.id == organization_id)).one()


def _role(db, role: Role, **where) -> ActiveRole:
    person = factories.person(db)
    grant = factories.grant(db, person, role, **where)
    return ActiveRole(
        grant_id=grant.id,
        person_id=person.id,
        role=role,
        organization_id=grant.organization_id,
        fund_id=grant.fund_id,
    )


def _found(db, role: ActiveRole, search: str) -> list[str]:
    ids = db.exec(admin.list_statement(role, search)).all()
    return [row.accreditation.number for row in admin.list_rows(db, role, ids)]


def test_an_organisation_written_by_the_orm_keeps_its_folded_name(db):
    org = factories.organization(db, name="L'ÉCOLE DU BÂTIMENT")
    assert _folded_in_database(db, org.id) == "l ecole du batiment"
    org.name = "Œuvres de Saint-Étienne – Æquitas"
    db.add(org)
    db.flush()
    assert _folded_in_database(db, org.id) == "oeuvres de saint etienne – aequitas"
    org.city = "LYON"  # another field: the folded name stays right
    db.add(org)
    db.flush()
    assert _folded_in_database(db, org.id) == "oeuvres de saint etienne – aequitas"


def test_the_entity_request_s_saves_keep_the_folded_name(db, client_d, demandeur):
    org = create_draft(client_d, db, demandeur, name="Élan Sécurité")
    assert _folded_in_database(db, org.id) == "elan securite"
    # the second save is a bulk UPDATE (organization_request._write)
    saved = post(
        client_d,
        f"/demandes-entite/{org.id}/etape-1",
        {**step1(name="Côte-d'Azur Prévention"), "version": str(org.version)},
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert _folded_in_database(db, org.id) == "cote d azur prevention"


def test_a_name_change_accepted_by_the_caisse_is_searched_by_its_new_name(db):
    org = factories.organization(db, name="ANCIEN NOM")
    acc = factories.accreditation(db, org)
    manager = factories.person(db)
    instructor = _role(db, Role.INSTRUCTEUR, fund_=factories.fund(db))
    change = OrganizationChange(
        organization_id=org.id,
        requested_by_id=manager.id,
        changes={"name": "Sécurité Œuvre d’Alsace"},
        fund_id=org.fund_id,
    )
    db.add(change)
    db.commit()
    accept_change(db, instructor, change, change.version)
    db.commit()
    assert _folded_in_database(db, org.id) == "securite oeuvre d alsace"
    assert _found(db, instructor, "oeuvre SECURITE") == [acc.number]
    assert _found(db, instructor, "ancien") == []


def test_the_search_ignores_accents_case_hyphens_and_ligatures(db):
    """The same answers on SQLite and PostgreSQL: both compare the name Python folded."""
    eloi = factories.organization(db, name="L'ŒUVRE SAINT-ÉLOI")
    acc = factories.accreditation(db, eloi)
    other = factories.accreditation(db, factories.organization(db, name="SAINTE ODILE"))
    administrator = _role(db, Role.ADMINISTRATEUR)
    db.commit()
    for search in ("oeuvre eloi", "Saint Éloi", "l'œuvre", "SAINT-ELOI", "œuv"):
        assert _found(db, administrator, search) == [acc.number], search
    latest_first = sorted([acc, other], key=lambda a: (a.end_date, a.id), reverse=True)
    assert _found(db, administrator, "saint") == [a.number for a in latest_first]
    assert _found(db, administrator, eloi.code) == [acc.number]
    assert _found(db, administrator, acc.number[:8].lower()) == [acc.number]
    assert _found(db, administrator, "éloi odile") == []


def test_the_demo_s_organisations_have_their_folded_name(db):
    load_demo(db)
    db.commit()
    rows = db.exec(select(Organization.name, Organization.name_folded)).all()
    assert len(rows) > 3
    assert [folded for _, folded in rows] == [fold(name) for name, _ in rows]


def test_the_migration_folds_the_names_already_there(tmp_path):
    """0008 fills the new column for every organisation written before it."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0007")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organization (id, kind, name, status, public_listing, created_at,"
                " updated_at) VALUES (7, 'entreprise', 'Société Générale d''Œuvres', 'valide', 0,"
                " '2026-01-31 00:00:00', '2026-01-31 00:00:00')"
            )
        )
    upgrade_database(url)
    with Session(engine) as db:
        assert _folded_in_database(db, 7) == "societe generale d oeuvres"
    engine.dispose()


# --- on PostgreSQL: the rows read do not grow with the table -------------------------------


def _rows_read(db, statement) -> dict[str, int]:
    """Rows each table gave to EXPLAIN ANALYZE's plan of `statement` (kept or filtered out).

    A few thousand rows fit in a few pages, which PostgreSQL may rather read whole than
    through an index: sequential scans are priced out (for this transaction), so the plan
    is the one an index allows, as at national size. A statement no index can serve
    still reads every row (a full index scan counts them all too)."""
    connection = db.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    compiled = statement.compile(dialect=db.get_bind().dialect)
    plan = connection.exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.params
    ).scalar()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    read: dict[str, int] = {}

    def walk(node):
        table = node.get("Relation Name")
        if table:
            rows = (
                node["Actual Rows"]
                + node.get("Rows Removed by Filter", 0)
                + node.get("Rows Removed by Index Recheck", 0)
            )
            read[table] = read.get(table, 0) + rows * node["Actual Loops"]
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return read


@pytest.fixture
def many(db):
    """3 000 accreditations of 2 000 entities in every caisse, written in SQL as the scale
    bench does, and the one entity searched for."""
    level = factories.scheme_level(db)
    db.exec(
        text(
            "INSERT INTO organization (kind, name, name_folded, code, fund_id, status,"
            " public_listing, created_at, updated_at, version)"
            " SELECT 'organisme_formation', 'ENTITÉ NOMBREUSE ' || i, 'entite nombreuse ' || i,"
            " lpad((10000 + i)::text, 5, '0'), f.ids[1 + i % array_length(f.ids, 1)], 'valide',"
            " false, now(), now(), 1"
            " FROM generate_series(1, 2000) AS i,"
            " (SELECT array_agg(id ORDER BY id) AS ids FROM fund) AS f"
        )
    )
    db.exec(
        text(
            "INSERT INTO accreditation (number, organization_id, scheme_level_id, sequence,"
            " start_date, end_date, mobile_platform, created_at, version)"
            " SELECT 'H' || o.code || '/2024/SST-1/O/0' || k, o.id, :level, k,"
            " current_date - 400, current_date + (o.id * 7 + k) % 1500, false, now(), 1"
            " FROM organization AS o, generate_series(0, 1) AS k"
            " WHERE o.name LIKE 'ENTITÉ NOMBREUSE %' AND (k = 0 OR o.id % 2 = 0)"
        ).bindparams(level=level.id)
    )
    elan = factories.organization(db, name="FORMATION ÉLAN")
    found = factories.accreditation(db, elan, end=today() + timedelta(days=90))
    db.commit()
    # what autovacuum does on a live database: statistics, and the trigram index's pending
    # entries moved into the index (PostgreSQL prices an index with many pending entries
    # as one to avoid)
    db.exec(text("ANALYZE organization"))
    db.exec(text("ANALYZE accreditation"))
    db.exec(text("SELECT gin_clean_pending_list('ix_organization_name_folded'::regclass)"))
    assert db.exec(text("SELECT count(*) FROM accreditation")).scalar() >= 3000
    return elan, found


@pytest.mark.skipif(not is_postgres(), reason="the plans of PostgreSQL's indexes")
def test_the_search_reads_only_the_rows_it_finds(db, many):
    elan, found = many
    administrator = _role(db, Role.ADMINISTRATEUR)
    instructor = _role(db, Role.INSTRUCTEUR, fund_=factories.fund(db))
    db.commit()
    for role in (administrator, instructor):
        for search in ("élan formation", found.number[:12], elan.code):
            statement = admin.list_statement(role, search).limit(25)
            assert db.exec(statement).all() == [found.id], (role.role, search)
            read = _rows_read(db, statement)
            assert read.get("accreditation", 0) <= 10, (role.role, search, read)
            assert read.get("organization", 0) <= 10, (role.role, search, read)


@pytest.mark.skipif(not is_postgres(), reason="the plans of PostgreSQL's indexes")
def test_a_far_page_reads_its_ids_from_the_index_alone(db, many):
    """The administrator's page 40 skips 975 accreditations in the index, without reading
    them; the page's 25 rows are then read by id."""
    administrator = _role(db, Role.ADMINISTRATEUR)
    db.commit()
    statement = admin.list_statement(administrator).limit(25).offset(975)
    ids = db.exec(statement).all()
    assert len(ids) == 25
    assert _rows_read(db, statement) == {"accreditation": 1000}
    compiled = statement.compile(dialect=db.get_bind().dialect)
    plan = db.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    plan = [line for (line,) in plan]
    assert any("Index Only Scan Backward using ix_accreditation_end_id" in line for line in plan)
    rows = admin.list_rows(db, administrator, ids)
    assert [row.accreditation.id for row in rows] == ids
    assert [row.accreditation.end_date for row in rows] == sorted(
        (row.accreditation.end_date for row in rows), reverse=True
    )


@pytest.mark.skipif(not is_postgres(), reason="the plans of PostgreSQL's indexes")
def test_an_instructors_page_reads_only_its_caisses_accreditations(db, many):
    """The caisse's entities are read first and each one's accreditations through its
    index: a page and its count read the caisse's accreditations, never every one."""
    fund = factories.fund(db, "CRAMIF")
    instructor = _role(db, Role.INSTRUCTEUR, fund_=fund)
    db.commit()
    own = db.exec(
        select(Accreditation.id)
        .join(Organization, Organization.id == Accreditation.organization_id)
        .where(Organization.fund_id == fund.id)
        .order_by(Accreditation.end_date.desc(), Accreditation.id.desc())
    ).all()
    assert 100 < len(own) < 300, len(own)
    for page in range(3):
        statement = admin.list_statement(instructor).limit(25).offset(25 * page)
        assert db.exec(statement).all() == own[25 * page : 25 * (page + 1)]
        assert _rows_read(db, statement)["accreditation"] == len(own)
    counted = admin.list_statement(instructor).order_by(None)
    assert _rows_read(db, counted)["accreditation"] == len(own)
    # the same statement for another caisse (its compiled form cached): that caisse's
    other_fund = factories.fund(db, "BRETAGNE")
    other = _role(db, Role.INSTRUCTEUR, fund_=other_fund)
    db.commit()
    theirs = db.exec(
        select(Accreditation.id)
        .join(Organization, Organization.id == Accreditation.organization_id)
        .where(Organization.fund_id == other_fund.id)
        .order_by(Accreditation.end_date.desc(), Accreditation.id.desc())
        .limit(25)
    ).all()
    assert theirs and not set(theirs) & set(own)
    assert db.exec(admin.list_statement(other).limit(25)).all() == theirs
