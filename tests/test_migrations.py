"""The Alembic migrations build the whole schema on a fresh SQLite file and a fresh
PostgreSQL database, the models have nothing the migrations lack, and no id is ever given
twice."""

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.cli import upgrade_database
from app.extensions import make_engine
from tests.conftest import require_env


def _check_fresh(url: str) -> None:
    upgrade_database(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            expected = {t.name for t in SQLModel.metadata.sorted_tables}
            assert expected <= tables, f"tables manquantes : {expected - tables}"
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            assert version == "0010"
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
            assert diff == [], f"les modèles diffèrent des migrations : {diff}"
            index_names = {i["name"] for i in inspect(conn).get_indexes("certsession")}
            assert "ix_certsession_org_state_updated" in index_names, index_names
            queue_indexes = {i["name"] for i in inspect(conn).get_indexes("organization")}
            assert "ix_organization_fund_status_submitted" in queue_indexes, queue_indexes
            if conn.dialect.name == "sqlite":
                _assert_ids_never_reused(conn)
    finally:
        engine.dispose()


def _assert_ids_never_reused(conn) -> None:
    """Every table with a numeric id says AUTOINCREMENT on SQLite (a later batch rebuild
    must pass table_kwargs={"sqlite_autoincrement": True} to keep it), as the models do."""
    with_id = [
        t.name for t in SQLModel.metadata.sorted_tables if [c.name for c in t.primary_key] == ["id"]
    ]
    assert len(with_id) > 30
    for name in with_id:
        sql = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": name},
        ).scalar()
        assert "PRIMARY KEY AUTOINCREMENT" in sql, name
        assert SQLModel.metadata.tables[name].dialect_options["sqlite"]["autoincrement"], name


def test_migrations_build_the_schema_on_a_fresh_sqlite_file(tmp_path):
    _check_fresh(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_migrations_build_the_schema_on_a_fresh_postgresql_database():
    base = require_env("FORPREV_TEST_PG_URL", "bin/test starts a throwaway PostgreSQL")
    name = f"forprev_fresh_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        _check_fresh(base.rsplit("/", 1)[0] + "/" + name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_receipts_get_their_messages_display_window(tmp_path):
    """0003 copies each message's display window onto the receipts already there."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0002")
    engine = create_engine(url)
    author_id = 1
    with engine.begin() as conn:
        _insert_person_0002(conn, author_id)
        conn.execute(
            text(
                "INSERT INTO targetedmessage (id, author_id, title, body, audience, "
                "display_from, display_until, created_at) VALUES (1, :author, 'T', 'B', '{}', "
                "'2026-02-01 08:00:00', '2026-03-01 08:00:00', '2026-01-31 00:00:00')"
            ),
            {"author": author_id},
        )
        conn.execute(
            text(
                "INSERT INTO messagereceipt (message_id, person_id, created_at) "
                "VALUES (1, :author, '2026-01-31 00:00:00')"
            ),
            {"author": author_id},
        )
    upgrade_database(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT display_from, display_until FROM messagereceipt")).one()
    engine.dispose()
    assert [str(v)[:16] for v in row] == ["2026-02-01 08:00", "2026-03-01 08:00"]


def _insert_person_0002(conn, person_id: int, last_name="DUPONT", first_name="Marie") -> None:
    """A person as the schema of 0002 to 0008 holds one (the model has columns since)."""
    conn.execute(
        text(
            "INSERT INTO person (id, forprev_number, email, last_name, first_name, birth_date,"
            " active, auth_version, notify_alerts, notify_notifications, notify_messages,"
            " created_at) VALUES (:id, :number, :email, :last, :first, '1980-01-01', 1, 1,"
            " 1, 1, 1, '2026-01-31 00:00:00')"
        ),
        {
            "id": person_id,
            "number": f"TST{person_id:05d}",
            "email": f"personne{person_id}@exemple.fr",
            "last": last_name,
            "first": first_name,
        },
    )


def test_people_already_there_become_searchable_by_their_folded_identity(tmp_path):
    """0009 writes each person's search text as every later write folds it."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0008")
    engine = make_engine(url)
    with engine.begin() as conn:
        _insert_person_0002(conn, 4, last_name="LE BŒUF-DUPRÉ", first_name="Anaïs")
    upgrade_database(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT search_folded, merged_into_id FROM person")).one()
    engine.dispose()
    assert tuple(row) == ("le boeuf dupre anais personne4@exemple.fr tst00004", None)


def test_an_upgraded_sqlite_database_keeps_its_rows_and_never_reuses_an_id(tmp_path):
    """0004 rebuilds every table on SQLite: rows, ids and the rows pointing at them stay
    (foreign keys are off meanwhile, or dropping a table would cascade), and afterwards a
    deleted row's id is not given to the next one."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0003")
    engine = make_engine(url)
    with engine.begin() as conn:
        for file_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO storedfile (id, name, content_type, size, complete, created_at)"
                    " VALUES (:id, 'f.pdf', 'application/pdf', 1, 1, '2026-01-31 00:00:00')"
                ),
                {"id": file_id},
            )
            conn.execute(
                text("INSERT INTO storedfilechunk (file_id, seq, data) VALUES (:id, 0, x'25')"),
                {"id": file_id},
            )
    upgrade_database(url)
    with engine.begin() as conn:
        # the chunks (ON DELETE CASCADE) were not taken away with the rebuilt file table
        assert conn.execute(text("SELECT file_id FROM storedfilechunk ORDER BY 1")).all() == [
            (1,),
            (2,),
        ]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        conn.execute(text("DELETE FROM storedfile WHERE id = 2"))
        assert conn.execute(text("SELECT count(*) FROM storedfilechunk")).scalar() == 1
        conn.execute(
            text(
                "INSERT INTO storedfile (name, content_type, size, complete, created_at)"
                " VALUES ('g.pdf', 'application/pdf', 1, 1, '2026-02-01 00:00:00')"
            )
        )
        assert conn.execute(text("SELECT max(id) FROM storedfile")).scalar() == 3
        assert conn.execute(text("SELECT resumes FROM bundle")).all() == []
    engine.dispose()


def test_entities_already_there_get_version_1_and_no_return_comment(tmp_path):
    """0005 adds the request's version and return comment, and the change's caisse, to
    the rows already there (on SQLite the tables are rebuilt and keep AUTOINCREMENT)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0004")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organization (id, kind, name, status, public_listing, created_at,"
                " updated_at) VALUES (7, 'entreprise', 'ACME', 'valide', 0,"
                " '2026-01-31 00:00:00', '2026-01-31 00:00:00')"
            )
        )
    upgrade_database(url)
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT id, version, return_comment, returned_at FROM organization")
        ).one()
        assert tuple(row) == (7, 1, None, None)
        sql = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'organizationchange'")
        ).scalar()
        assert "fund_id" in sql and "PRIMARY KEY AUTOINCREMENT" in sql
    engine.dispose()


def test_a_catalogue_already_there_gets_inrs_models_and_the_qualifications(tmp_path):
    """0009 completes a catalogue the seed wrote before it (the seed now writes the
    catalogue only into an empty database): INRS's model on the top level, never issued
    in a session, and each level's qualifying models as REFERENCE §2 says."""
    from seeds.reference import CERTIFICATE_MODELS, default_qualifications

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0008")
    engine = make_engine(url)
    levels = {("SST", 1): 1, ("SST", 2): 2, ("SST", 3): 3, ("CATEC", 1): 4, ("CATEC", 2): 5}
    with engine.begin() as conn:
        for scheme_id, code in ((1, "SST"), (2, "CATEC")):
            conn.execute(
                text(
                    "INSERT INTO scheme (id, code, name, technical_requirements, active)"
                    " VALUES (:id, :code, :code, 0, 1)"
                ),
                {"id": scheme_id, "code": code},
            )
        for (code, level), level_id in levels.items():
            conn.execute(
                text(
                    "INSERT INTO schemelevel (id, scheme_id, level, programme_required,"
                    " min_trainees, max_trainees, inrs_only) VALUES (:id, :scheme, :level,"
                    " 1, 1, 15, 0)"
                ),
                {"id": level_id, "scheme": 1 if code == "SST" else 2, "level": level},
            )
        for code, level, name, months in CERTIFICATE_MODELS:
            if (code, level) in levels:
                conn.execute(
                    text(
                        "INSERT INTO certificatemodel (scheme_level_id, name, validity_months,"
                        " active) VALUES (:level, :name, :months, 1)"
                    ),
                    {"level": levels[(code, level)], "name": name, "months": months},
                )
    upgrade_database(url)
    with engine.connect() as conn:
        inrs = conn.execute(
            text(
                "SELECT scheme_level_id, validity_months FROM certificatemodel"
                " WHERE issued_in_sessions = 0"
            )
        ).all()
        qualifying = {
            level_id: sorted(
                name
                for (name,) in conn.execute(
                    text(
                        "SELECT m.name FROM levelqualification AS q JOIN certificatemodel AS m"
                        " ON m.id = q.certificate_model_id WHERE q.scheme_level_id = :level"
                    ),
                    {"level": level_id},
                )
            )
            for level_id in levels.values()
        }
    engine.dispose()
    assert [tuple(row) for row in inrs] == [(levels[("CATEC", 2)], 36)]
    assert qualifying == {
        level_id: sorted(default_qualifications(code, level))
        for (code, level), level_id in levels.items()
    }
