"""Settings, read from FORPREV_* environment variables with embedded defaults.

Every variable is listed in the README; `SETTINGS` below is the single source.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.cli import CommandError

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("FORPREV_INSTANCE_DIR", ROOT / "instance"))


class SettingError(RuntimeError, CommandError):
    """A setting missing or unreadable. `flask --app app …` builds the app inside click's
    command loader: as a CommandError it ends the command in one French line."""

    def __init__(self, message: str):
        CommandError.__init__(self, message)


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    default: object
    kind: type
    help: str


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "oui"}


SETTINGS = [
    Setting(
        "FORPREV_ENV",
        "ENV",
        "production",
        str,
        "`development` turns on the local mailbox page and non-Secure cookies.",
    ),
    Setting(
        "FORPREV_SECRET_KEY",
        "SECRET_KEY",
        None,
        str,
        "Signs sessions and CSRF tokens. Required outside development.",
    ),
    Setting(
        "FORPREV_DATABASE_URL",
        "DATABASE_URL",
        f"sqlite:///{INSTANCE / 'forprev.db'}",
        str,
        "SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/forprev.",
    ),
    Setting(
        "FORPREV_REDIS_URL",
        "REDIS_URL",
        f"unix://{INSTANCE / 'redis.sock'}",
        str,
        "Redis for the job queue; default is the embedded server's socket.",
    ),
    Setting(
        "FORPREV_BASE_URL",
        "BASE_URL",
        "http://127.0.0.1:5000",
        str,
        "Public address used in e-mail links and QR codes.",
    ),
    Setting("FORPREV_SMTP_HOST", "SMTP_HOST", "127.0.0.1", str, "SMTP server host."),
    Setting("FORPREV_SMTP_PORT", "SMTP_PORT", 1025, int, "SMTP server port."),
    Setting("FORPREV_SMTP_USER", "SMTP_USER", "", str, "SMTP login (empty: none)."),
    Setting("FORPREV_SMTP_PASSWORD", "SMTP_PASSWORD", "", str, "SMTP password."),
    Setting("FORPREV_SMTP_STARTTLS", "SMTP_STARTTLS", False, _bool, "Use STARTTLS."),
    Setting("FORPREV_SMTP_TIMEOUT", "SMTP_TIMEOUT", 10, int, "SMTP timeout in seconds."),
    Setting(
        "FORPREV_MAIL_FROM",
        "MAIL_FROM",
        "Forprev <ne-pas-repondre@forprev.localhost>",
        str,
        "Sender of every e-mail.",
    ),
    Setting(
        "FORPREV_MAILBOX_DIR",
        "MAILBOX_DIR",
        str(INSTANCE / "mailbox"),
        str,
        "Development mail catcher: where caught mails are kept (Maildir).",
    ),
    Setting(
        "FORPREV_STORAGE",
        "STORAGE",
        "database",
        str,
        "File storage backend: `database` (shared by every machine).",
    ),
    Setting(
        "FORPREV_DECLARATION_MONTHS_BEFORE",
        "DECLARATION_MONTHS_BEFORE",
        3,
        int,
        "A session may be declared from this many months before its end date.",
    ),
    Setting(
        "FORPREV_DECLARATION_MONTHS_AFTER",
        "DECLARATION_MONTHS_AFTER",
        1,
        int,
        "…and until this many months after it.",
    ),
    Setting(
        "FORPREV_RETENTION_DAYS",
        "RETENTION_DAYS",
        15,
        int,
        "Days the bundle and trainees' personal data are kept after generation.",
    ),
    Setting(
        "FORPREV_ACCREDITATION_YEARS",
        "ACCREDITATION_YEARS",
        5,
        int,
        "Validity of an accreditation from the CNH decision.",
    ),
    Setting(
        "FORPREV_SESSION_HOURS",
        "SESSION_HOURS",
        12,
        int,
        "Maximum lifetime of a login session, in hours.",
    ),
    Setting(
        "FORPREV_IDLE_MINUTES",
        "IDLE_MINUTES",
        60,
        int,
        "A login session ends after this many minutes without a request (counted to the minute).",
    ),
    Setting(
        "FORPREV_MAIL_RETRY_MAX",
        "MAIL_RETRY_MAX",
        12,
        int,
        "Attempts before an e-mail is marked failed (back-off doubles up to 1 hour).",
    ),
    Setting(
        "FORPREV_SCHEDULER_TICK",
        "SCHEDULER_TICK",
        30,
        int,
        "Seconds between two scheduler rounds (outbox sweep; daily jobs run once a day).",
    ),
    Setting("FORPREV_PAGE_SIZE", "PAGE_SIZE", 25, int, "Rows per page in lists."),
    Setting(
        "FORPREV_TRAINER_ALERT_MONTHS",
        "TRAINER_ALERT_MONTHS",
        3,
        int,
        "A trainer is alerted this many months before their certificate's validity ends.",
    ),
    Setting(
        "FORPREV_PROXY_HOPS",
        "PROXY_HOPS",
        0,
        int,
        "Reverse proxies in front of the app whose X-Forwarded-* headers are trusted "
        "(the client address counts for throttling).",
    ),
    Setting(
        "FORPREV_UPLOAD_MAX_MB",
        "UPLOAD_MAX_MB",
        10,
        int,
        "Largest file a user may send, in MB (a larger request is refused before it is read).",
    ),
    Setting(
        "FORPREV_IMPORT_MAX_MB",
        "IMPORT_MAX_MB",
        200,
        int,
        "Largest CSV file the Import screen takes, in MB (a larger request is refused "
        "before it is read; `flask import` reads a file of any size).",
    ),
    Setting(
        "FORPREV_PUBLIC_LIST_CACHE_SECONDS",
        "PUBLIC_LIST_CACHE_SECONDS",
        60,
        int,
        "Seconds a page of the public list of accredited organisations is kept in Redis.",
    ),
    Setting(
        "FORPREV_CONTACT_RETENTION_DAYS",
        "CONTACT_RETENTION_DAYS",
        365,
        int,
        "Days a contact request to the support is kept before the daily purge deletes it.",
    ),
]


def load_settings(overrides: dict | None = None) -> dict:
    config = {}
    for s in SETTINGS:
        raw = os.environ.get(s.env)
        if raw is None:
            config[s.key] = s.default
        elif s.kind is bool or s.kind is _bool:
            config[s.key] = _bool(raw)
        else:
            try:
                config[s.key] = s.kind(raw)
            except ValueError:
                raise SettingError(
                    f"{s.env} doit être un nombre entier (lu : « {raw} »)."
                ) from None
    config.update(overrides or {})
    if not config["SECRET_KEY"]:
        if config["ENV"] != "development" and not config.get("TESTING"):
            raise SettingError("FORPREV_SECRET_KEY doit être défini hors du mode development.")
        config["SECRET_KEY"] = secrets.token_hex(32)
    return config
