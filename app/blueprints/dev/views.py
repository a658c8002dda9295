"""Development only: the mails caught by the local mail catcher (`flask mailcatcher`).
Registered only when FORPREV_ENV=development."""

import mailbox
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template
from markupsafe import Markup, escape

bp = Blueprint("dev", __name__, url_prefix="/dev")

# a link ends at a space or a quote; a final dot, comma… belongs to the sentence
LINK = re.compile(r"https?://[^\s<>\"']+?(?=[.,;:!?)\]]*(?:[\s<>\"']|$))", re.IGNORECASE)


def _box() -> mailbox.Maildir:
    path = Path(current_app.config["MAILBOX_DIR"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, factory=None, create=True)


def _sent_at(parsed, message) -> datetime:
    """The Date header, else the time the catcher received the mail."""
    header = parsed["Date"]
    moment = getattr(header, "datetime", None)
    if moment is not None:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(message.get_date(), UTC)


def _parse(key, message):
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    return {
        "key": key,
        "to": parsed["To"],
        "subject": parsed["Subject"],
        "date": _sent_at(parsed, message),
        "text": body.get_content() if body else "",
    }


def with_links(text: str) -> Markup:
    """The mail's text, escaped, with its http(s) addresses made clickable."""
    parts, start = [], 0
    for match in LINK.finditer(text):
        url = escape(match.group(0))
        parts += [
            escape(text[start : match.start()]),
            Markup(f'<a href="{url}" rel="noopener">{url}</a>'),
        ]
        start = match.end()
    parts.append(escape(text[start:]))
    return Markup("").join(parts)


@bp.get("/courriels")
def mails():
    box = _box()
    items = sorted(
        (_parse(k, m) for k, m in box.items()), key=lambda m: (m["date"], m["key"]), reverse=True
    )
    return render_template("dev/mails.html", mails=items[:200])


@bp.get("/courriels/<key>")
def mail(key: str):
    box = _box()
    if key not in box:
        abort(404)
    parsed = _parse(key, box[key])
    return render_template("dev/mail.html", mail=parsed, body=with_links(parsed["text"]))
