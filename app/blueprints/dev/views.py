"""Development only: the mails caught by the local mail catcher (`flask mailcatcher`).
Registered only when FORPREV_ENV=development."""

import mailbox
from email import policy
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template

bp = Blueprint("dev", __name__, url_prefix="/dev")


def _box() -> mailbox.Maildir:
    path = Path(current_app.config["MAILBOX_DIR"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, factory=None, create=True)


def _parse(key, message):
    from email import message_from_bytes

    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    return {
        "key": key,
        "to": parsed["To"],
        "subject": parsed["Subject"],
        "date": parsed["Date"],
        "text": body.get_content() if body else "",
    }


@bp.get("/courriels")
def mails():
    box = _box()
    items = sorted((_parse(k, m) for k, m in box.items()), key=lambda m: m["key"], reverse=True)
    return render_template("dev/mails.html", mails=items[:200])


@bp.get("/courriels/<key>")
def mail(key: str):
    box = _box()
    if key not in box:
        abort(404)
    return render_template("dev/mail.html", mail=_parse(key, box[key]))
