"""Operator commands: `flask db upgrade`, `flask seed reference|demo`, `flask worker`,
`flask scheduler`, `flask mailcatcher`."""

import logging
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent


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


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply the migrations up to REVISION (head by default)."""
    upgrade_database(current_app.config["DATABASE_URL"], revision)
    click.echo("Base de données à jour.")


seed_cli = AppGroup("seed", help="Données de référence et de démonstration.")


def _session() -> Session:
    return Session(current_app.extensions["forprev_engine"], expire_on_commit=False)


@seed_cli.command("reference")
def seed_reference():
    """Load REFERENCE.md §1–§3 (caisses, départements, dispositifs, certificats)."""
    from seeds.reference import load_reference

    with _session() as db:
        counts = load_reference(db)
        db.commit()
    click.echo("Référentiel chargé : " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@seed_cli.command("demo")
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


@click.command("demo-logins")
def demo_logins():
    """Print the demo logins."""
    from seeds.demo import DEMO_LOGINS, DEMO_PASSWORD

    click.echo(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD})")
    for role, email, number in DEMO_LOGINS:
        click.echo(f"  {role:<42} {email:<40} {number}")


@click.command("create-admin")
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
            raise click.ClickException(exc.message) from None
        db.commit()
    base = current_app.config["BASE_URL"]
    click.echo(
        f"Administrateur créé : {person.first_name} {person.last_name}, "
        f"numéro Forprev {person.forprev_number}."
    )
    click.echo("Lien pour définir le mot de passe (72 heures, aussi envoyé par e-mail) :")
    click.echo(f"  {base}/mot-de-passe/nouveau/{raw}")


@click.command("purge")
def purge():
    """Delete the sessions, trainees, PDFs and bundles whose 15 days are over."""
    from jobs.purge import purge_expired

    click.echo(f"Sessions purgées : {purge_expired()}")


@click.command("worker")
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
                raise click.ClickException("Redis ne répond pas (FORPREV_REDIS_URL).") from None
            time.sleep(0.2)


@click.command("scheduler")
def scheduler():
    """Run the single scheduler (outbox sweep, daily jobs)."""
    from jobs.scheduler import run_forever

    logging.basicConfig(level=logging.INFO)
    run_forever(current_app._get_current_object(), _session, current_app.config["SCHEDULER_TICK"])


@click.command("mailcatcher")
@click.option("--port", default=None, type=int)
def mailcatcher(port):
    """Development: catch every e-mail on localhost and keep it for /dev/courriels."""
    from app.mailcatcher import serve

    if current_app.config["ENV"] != "development":
        raise click.ClickException("Le collecteur de courriels ne sert qu'en développement.")
    serve(
        current_app.config["SMTP_HOST"],
        port or current_app.config["SMTP_PORT"],
        current_app.config["MAILBOX_DIR"],
    )


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
    ):
        app.cli.add_command(command)
