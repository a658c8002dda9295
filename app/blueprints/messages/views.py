"""Targeted messages: an instructor (their region) or an administrator (national) writes
to people chosen by role, dispositif, level and caisse, with a count before sending."""

from datetime import datetime, time

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlmodel import select

from app.blueprints.messages.forms import MessageForm
from app.clock import PARIS, today, utcnow
from app.domain.access import require
from app.domain.errors import DomainError
from app.domain.targeted_messages import Audience, count_audience, send_message
from app.extensions import get_db
from app.models import Fund, MessageReceipt, Scheme, TargetedMessage
from app.models.people import Role
from app.pagination import paginate

bp = Blueprint("messages", __name__, url_prefix="/messages")


def _form(db) -> MessageForm:
    form = MessageForm()
    form.scheme_id.choices = [("", "Tous les dispositifs")] + [
        (str(i), f"{code} — {name}")
        for i, code, name in db.exec(
            select(Scheme.id, Scheme.code, Scheme.name).order_by(Scheme.code)
        ).all()
    ]
    if g.active_role.role == Role.INSTRUCTEUR:
        form.fund_id.choices = [(str(g.active_role.fund_id), g.active_role.fund_name)]
    else:
        form.fund_id.choices = [("", "Toute la France")] + [
            (str(i), n) for i, n in db.exec(select(Fund.id, Fund.name).order_by(Fund.name)).all()
        ]
    if request.method == "GET" and not form.display_from.data:
        form.display_from.data = today()
    return form


def _audience(form: MessageForm) -> Audience:
    fund_id = form.fund_id.data
    if g.active_role.role == Role.INSTRUCTEUR:
        fund_id = g.active_role.fund_id  # an instructor writes to their region only
    return Audience(
        roles=[r for r in (form.roles.data or []) if r in {x for x, _ in form.roles.choices}],
        scheme_id=form.scheme_id.data if form.scheme_id.data and form.scheme_id.data > 0 else None,
        level=form.level.data if form.level.data in (1, 2, 3) else None,
        fund_id=fund_id if fund_id and fund_id > 0 else None,
    )


@bp.get("/")
@login_required
@require("message.send")
def index():
    db = get_db()
    query = select(TargetedMessage).order_by(TargetedMessage.created_at.desc())
    if g.active_role.role == Role.INSTRUCTEUR:
        query = query.where(TargetedMessage.fund_id == g.active_role.fund_id)
    return render_template("messages/index.html", page=paginate(db, query))


@bp.route("/nouveau", methods=["GET", "POST"])
@login_required
@require("message.send")
def create():
    db = get_db()
    form = _form(db)
    error = None
    if form.validate_on_submit():
        start = form.display_from.data or today()
        until = form.display_until.data
        try:
            message, reached = send_message(
                db,
                author_id=current_user.person_id,
                title=form.title.data,
                body=form.body.data,
                audience=_audience(form),
                display_from=datetime.combine(start, time(0, 0), tzinfo=PARIS),
                display_until=datetime.combine(until, time(23, 59), tzinfo=PARIS)
                if until
                else None,
            )
        except DomainError as exc:
            field = getattr(form, exc.field, None) if exc.field else None
            if field is not None:
                field.errors = [exc.message]
            else:
                error = exc.message
        else:
            db.commit()
            flash(f"Message envoyé à {reached} personne{'s' if reached > 1 else ''}.")
            return redirect(url_for("messages.index"))
    status = 422 if request.method == "POST" else 200
    reach = count_audience(db, _audience(form)) if form.roles.data else None
    return render_template("messages/new.html", form=form, error=error, reach=reach), status


@bp.post("/apercu")
@login_required
@require("message.send")
def preview():
    """htmx: how many people the message would reach with the criteria as they stand."""
    db = get_db()
    form = _form(db)
    form.validate()
    reach = count_audience(db, _audience(form)) if form.roles.data else None
    return render_template("messages/_reach.html", reach=reach)


@bp.post("/<int:message_id>/lu")
@login_required
def mark_read(message_id: int):
    db = get_db()
    receipt = db.exec(
        select(MessageReceipt).where(
            MessageReceipt.message_id == message_id,
            MessageReceipt.person_id == current_user.person_id,
        )
    ).first()
    if receipt is None:
        abort(404)
    receipt.read_at = receipt.read_at or utcnow()
    db.add(receipt)
    db.commit()
    return redirect(url_for("dashboard.index") + "#messages-titre")
