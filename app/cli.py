"""Operator commands: `flask db upgrade`, `flask seed reference|demo`, `flask worker`,
`flask scheduler`, `flask mailcatcher`, `flask import`.

A command that cannot run (a setting missing, the database or Redis out of reach) says
why in one French line and exits with status 1, never with a traceback.
"""

import logging
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent


class CommandError(click.ClickException):
    """One French line on stderr, exit status 1 (click's own starts with 'Error:')."""

    def show(self, file=None) -> None:
        click.echo(f"Erreur : {self.format_message()}", err=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _failure(exc: Exception) -> str | None:
    """What an operator should check when a command met this error; None: a real bug."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError

    config = current_app.config
    if isinstance(exc, DBAPIError):
        url = _safe_url(config["DATABASE_URL"])
        if exc.statement is None:  # raised while connecting
            return f"la base de données ({url}) ne répond pas, vérifiez FORPREV_DATABASE_URL."
        if "no such table" in str(exc.orig) or type(exc.orig).__name__ == "UndefinedTable":
            return f"la base de données ({url}) n'est pas créée, lancez « flask db upgrade »."
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return f"Redis ({config['REDIS_URL']}) ne répond pas, vérifiez FORPREV_REDIS_URL."
    return None


class Command(click.Command):
    """A command whose database or Redis failures end in one French line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = _failure(exc)
            if message is None:
                raise
            raise CommandError(message) from None


def alembic_config(url: str):
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


db_cli = AppGroup("db", help="Schéma de la base de données (migrations Alembic).")


@db_cli.command("upgrade", cls=Command)
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply the migrations up to REVISION (head by default)."""
    upgrade_database(current_app.config["DATABASE_URL"], revision)
    click.echo("Base de données à jour.")


seed_cli = AppGroup("seed", help="Données de référence et de démonstration.")


def _session() -> Session:
    return Session(current_app.extensions["forprev_engine"], expire_on_commit=False)


@seed_cli.command("reference", cls=Command)
def seed_reference():
    """Load REFERENCE.md §1–§3 (caisses, départements, dispositifs, certificats)."""
    from seeds.reference import load_reference

    with _session() as db:
        counts = load_reference(db)
        db.commit()
    click.echo("Référentiel chargé : " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@seed_cli.command("demo", cls=Command)
def seed_demo():
    """Load the demo data (once)."""
    from seeds.demo import load_demo

    with _session() as db:
        loaded = load_demo(db)
        db.commit()
    click.echo(
        "Données de démonstration chargées."
        if loaded
        else "Données de démonstration déjà présentes."
    )


@click.command("demo-logins", cls=Command)
def demo_logins():
    """Print the demo logins."""
    from seeds.demo import DEMO_LOGIN_USES, DEMO_LOGINS, DEMO_PASSWORD, DEMO_TRAINER_REFUSALS

    click.echo(
        f"Comptes de démonstration (numéro Forprev ou e-mail, mot de passe : {DEMO_PASSWORD})"
    )
    for role, email, number in DEMO_LOGINS:
        use = DEMO_LOGIN_USES.get(number)
        click.echo(f"  {number}  {role}" + (f", pour {use}" if use else "") + f"  <{email}>")
    click.echo("Numéros refusés par la vérification du formateur (onglet Formateur) :")
    for number, scheme, level, why in DEMO_TRAINER_REFUSALS:
        click.echo(f"  {number}  pour une session {scheme} niveau {level} : {why}")


@click.command("create-admin", cls=Command)
@click.option("--email", required=True, help="Adresse e-mail de l'administrateur.")
@click.option("--first-name", required=True, help="Prénom.")
@click.option("--last-name", required=True, help="Nom.")
def create_admin(email, first_name, last_name):
    """Create an administrator; prints the link (also mailed) that sets the password."""
    from app.domain.accounts import create_admin as create
    from app.domain.errors import DomainError

    with _session() as db:
        try:
            person, raw = create(db, email=email, first_name=first_name, last_name=last_name)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        db.commit()
    base = current_app.config["BASE_URL"]
    click.echo(
        f"Administrateur créé : {person.first_name} {person.last_name}, "
        f"numéro Forprev {person.forprev_number}."
    )
    click.echo("Lien pour définir le mot de passe (72 heures, aussi envoyé par e-mail) :")
    click.echo(f"  {base}/mot-de-passe/nouveau/{raw}")


@click.command("purge", cls=Command)
def purge():
    """Delete the sessions, trainees, PDFs and bundles whose 15 days are over."""
    from jobs.purge import purge_expired

    click.echo(f"Sessions purgées : {purge_expired()}")


@click.command("worker", cls=Command)
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker(burst):
    """Run an RQ worker on the Forprev queue."""
    from rq import Worker

    from app.queue import get_queue

    logging.basicConfig(level=logging.INFO)
    queue = get_queue()
    _wait_for_redis(queue.connection)
    Worker([queue], connection=queue.connection).work(burst=burst, with_scheduler=False)


def _wait_for_redis(connection, seconds: float = 20) -> None:
    """On a first start the embedded Redis may come up a moment after the worker."""
    import time

    from redis.exceptions import ConnectionError as RedisConnectionError

    deadline = time.monotonic() + seconds
    while True:
        try:
            connection.ping()
            return
        except RedisConnectionError:
            if time.monotonic() > deadline:
                raise  # the command says it in one line
            time.sleep(0.2)


@click.command("scheduler", cls=Command)
def scheduler():
    """Run the single scheduler (outbox sweep, daily jobs)."""
    from jobs.scheduler import run_forever

    logging.basicConfig(level=logging.INFO)
    run_forever(current_app._get_current_object(), _session, current_app.config["SCHEDULER_TICK"])


@click.command("mailcatcher", cls=Command)
@click.option("--port", default=None, type=int)
def mailcatcher(port):
    """Development: catch every e-mail on localhost and keep it for /dev/courriels."""
    from app.mailcatcher import serve

    if current_app.config["ENV"] != "development":
        raise CommandError("Le collecteur de courriels ne sert qu'en développement.")
    serve(
        current_app.config["SMTP_HOST"],
        port or current_app.config["SMTP_PORT"],
        current_app.config["MAILBOX_DIR"],
    )


IMPORT_KINDS = ("entites", "personnes", "roles", "habilitations", "certificats")


@click.command("import", cls=Command)
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dry-run", "--essai", "dry_run", is_flag=True, help="Essai : rien n'est enregistré."
)
@click.option(
    "--refus",
    "refusals_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Écrire les lignes refusées (avec leur motif) dans ce fichier CSV.",
)
def import_file(kind, path, dry_run, refusals_path):
    """Import a CSV file of existing data (the "Import" screen's rules, one transaction).
    Exit status 0: every line accepted; 2: lines refused; 1: the file refused or failed."""
    from app.domain.errors import DomainError
    from app.domain.importing import runner
    from app.domain.importing.csvfile import HEAD_BYTES
    from app.domain.storage import CHUNK_SIZE, get_storage

    with _session() as db:
        with path.open("rb") as source:
            try:
                runner.check_file_head(kind, source.read(HEAD_BYTES))
            except DomainError as exc:
                raise CommandError(f"{path.name} refusé : {exc.message}") from None
            source.seek(0)
            stored = runner.store_import_file(
                db, path.name, iter(lambda: source.read(CHUNK_SIZE), b"")
            )
        # no RQ job: the screen and the scheduler's sweep leave it alone while this runs it
        run = runner.create_run(
            db, kind=kind, file_id=stored.id, dry_run=dry_run, actor_id=None, command=True
        )
        db.commit()
        run_id = run.id
        bar = _ImportBar("Essai" if dry_run else "Import")
        row = runner.RowProgress(current_app.extensions["forprev_engine"], run_id)

        def progress(done: int, total: int) -> None:
            bar(done, total)
            row(done, total)  # the run's page shows it too (PostgreSQL)

        try:
            with runner.command_alive(run_id):
                run = runner.run_import(db, run_id, progress=progress)
        except runner.ImportFailed as exc:
            raise CommandError(exc.message) from None
        except KeyboardInterrupt:
            runner.stop_command_run(db, run_id)
            raise CommandError(f"import n° {run_id} interrompu : rien n'a été écrit.") from None
        finally:
            bar.close()
        if run.status != runner.FINISHED:
            raise CommandError(run.error or "l'import n'a pas abouti.")
        verb = "seraient" if dry_run else "ont été"
        click.echo(
            f"{'Essai' if dry_run else 'Import'} n° {run.id} ({kind}) : {run.done} lignes lues, "
            f"{run.created} {verb} créées, {run.updated} {verb} modifiées, "
            f"{run.unchanged} inchangées, {run.refused} refusées."
        )
        if not run.refused:
            return
        for refusal in runner.refused_lines(db, run, limit=20):
            click.echo(f"  ligne {refusal['line']} : {refusal['reason']}", err=True)
        if run.refused > 20:
            click.echo(f"  … et {run.refused - 20} autres lignes refusées.", err=True)
        if refusals_path is not None:
            with refusals_path.open("wb") as out:
                for chunk in get_storage().iter_chunks(db, run.report_file_id):
                    out.write(chunk)
            click.echo(f"Lignes refusées écrites dans {refusals_path}.", err=True)
        click.get_current_context().exit(2)


class _ImportBar:
    """click's progress bar, drawn once the run knows how many lines the file has."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label)
            self.bar.__enter__()
        self.bar.length = max(self.bar.length, total, 1)
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def register_cli(app) -> None:
    for command in (
        db_cli,
        seed_cli,
        demo_logins,
        create_admin,
        purge,
        worker,
        scheduler,
        mailcatcher,
        import_file,
    ):
        app.cli.add_command(command)
