"""Aide et assistance: the FAQ with its search, the manual of each role, and the
administrators' screens editing both. Thin views: the rules are in
app/domain/help_content.py; the contact form and the support's requests are in contact.py.
"""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.help.forms import FaqForm, ManualForm
from app.domain import help_content
from app.domain.access import can, require
from app.domain.errors import DomainError
from app.extensions import get_db
from app.models.help import MANUAL_ROLES
from app.web import render_page_or_fragment

bp = Blueprint("help", __name__, url_prefix="/aide")

QUERY_MAX = 200  # a longer search is cut, never refused


def contact_url() -> str:
    """The contact form ("help.contact", in contact.py)."""
    return url_for("help.contact")


def _active_role() -> str | None:
    role = g.get("active_role")
    return role.role.value if role else None


@bp.get("/")
def index():
    """The FAQ (filtered by ?q=, as a fragment for htmx while one types), the manuals
    with the one of the role in use first, and the way to write to the support."""
    db = get_db()
    query = request.args.get("q", "", type=str)[:QUERY_MAX]
    faq = help_content.search_faq(db, query)
    return render_page_or_fragment(
        "help/index.html",
        "help/_faq.html",
        faq=faq,
        manuals=help_content.manuals_for(db, _active_role()),
        role_label=help_content.role_label,
        role_in_use=_active_role(),
        can_edit=can(g.get("active_role"), "help.edit"),
        contact_url=contact_url(),
    )


@bp.get("/manuel/<role>")
def manual(role: str):
    db = get_db()
    found = help_content.get_manual(db, role)
    if found is None:
        abort(404)
    rendered = help_content.render_markdown(found.body)
    return render_template(
        "help/manual.html",
        manual=found,
        rendered=rendered,
        role_label=help_content.role_label(role),
        can_edit=can(g.get("active_role"), "help.edit"),
    )


# ---------------------------------------------------------------- administrators


@bp.get("/gestion")
@login_required
@require("help.edit")
def manage():
    db = get_db()
    return render_template(
        "help/manage.html",
        faq=help_content.search_faq(db),
        manuals={m.role: m for m in help_content.manuals_for(db, None)},
        manual_roles=MANUAL_ROLES,
        role_label=help_content.role_label,
    )


def _save_faq(form: FaqForm, entry=None):
    """The form's entry saved, or the form with its message next to the field (422)."""
    db = get_db()
    try:
        saved = help_content.save_faq_entry(
            db,
            actor_id=current_user.person_id,
            module=form.module.data or "",
            question=form.question.data or "",
            answer=form.answer.data or "",
            entry=entry,
        )
    except DomainError as exc:
        db.rollback()
        getattr(form, exc.field).errors = [exc.message]
        return None
    db.commit()
    return saved


@bp.route("/faq/nouvelle", methods=["GET", "POST"])
@login_required
@require("help.edit")
def new_faq():
    form = FaqForm()
    if request.method == "POST" and form.validate() and _save_faq(form):
        flash("La question est ajoutée à la FAQ.", "success")
        return redirect(url_for("help.manage"))
    status = 422 if request.method == "POST" else 200
    return render_template("help/faq_form.html", form=form, entry=None), status


@bp.route("/faq/<int:entry_id>/modifier", methods=["GET", "POST"])
@login_required
@require("help.edit")
def edit_faq(entry_id: int):
    entry = help_content.get_faq_entry(get_db(), entry_id) or abort(404)
    form = FaqForm(obj=entry) if request.method == "GET" else FaqForm()
    if request.method == "POST" and form.validate() and _save_faq(form, entry):
        flash("La question est enregistrée.", "success")
        return redirect(url_for("help.manage"))
    status = 422 if request.method == "POST" else 200
    return render_template("help/faq_form.html", form=form, entry=entry), status


@bp.post("/faq/<int:entry_id>/deplacer")
@login_required
@require("help.edit")
def move_faq(entry_id: int):
    db = get_db()
    entry = help_content.get_faq_entry(db, entry_id) or abort(404)
    help_content.move_faq_entry(
        db, actor_id=current_user.person_id, entry=entry, up=request.form.get("sens") == "haut"
    )
    db.commit()
    return redirect(url_for("help.manage") + f"#faq-{entry.id}")


@bp.post("/faq/<int:entry_id>/supprimer")
@login_required
@require("help.edit")
def delete_faq(entry_id: int):
    db = get_db()
    entry = help_content.get_faq_entry(db, entry_id) or abort(404)
    help_content.delete_faq_entry(db, actor_id=current_user.person_id, entry=entry)
    db.commit()
    flash("La question est retirée de la FAQ.", "success")
    return redirect(url_for("help.manage"))


@bp.route("/manuel/<role>/modifier", methods=["GET", "POST"])
@login_required
@require("help.edit")
def edit_manual(role: str):
    if role not in MANUAL_ROLES:
        abort(404)
    db = get_db()
    existing = help_content.get_manual(db, role)
    form = ManualForm(obj=existing) if request.method == "GET" else ManualForm()
    if request.method == "POST" and form.validate():
        try:
            help_content.save_manual(
                db,
                actor_id=current_user.person_id,
                role=role,
                title=form.title.data or "",
                body=form.body.data or "",
            )
        except DomainError as exc:
            db.rollback()
            getattr(form, exc.field or "body").errors = [exc.message]
        else:
            db.commit()
            flash("Le manuel est enregistré.", "success")
            return redirect(url_for("help.manual", role=role))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "help/manual_form.html",
        form=form,
        role=role,
        role_label=help_content.role_label(role),
        existing=existing,
    ), status
