"""The administrator's catalogue: the list of dispositifs and levels, and one page per
dispositif-level where each part (the dispositif, the session rules, each certificate
model, each document of a request, the trainer's qualifications) is a small form of its
own, checked field by field as it is typed (the same rule as the save, in
app/domain/catalogue.py), with the history of changes below.

Every save answers the level's panel: for htmx the fragment, otherwise the page again by
its own address. A form shown values someone else has changed since is refused (409).
"""

from collections import defaultdict

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_login import login_required
from sqlmodel import select

from app.blueprints.catalogue.forms import (
    ActionForm,
    LevelRulesForm,
    ModelForm,
    QualificationForm,
    RequirementForm,
    SchemeForm,
)
from app.domain import catalogue
from app.domain.access import require
from app.domain.errors import ConflictError, DomainError
from app.extensions import get_db
from app.models import (
    CertificateModel,
    DocumentRequirement,
    LevelQualification,
    Scheme,
    SchemeLevel,
)
from app.pagination import paginate
from app.tabs import after_save
from app.web import render_page_or_fragment

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")

_INVALID = "Ce formulaire n'a pas pu être enregistré : corrigez le champ signalé."


@bp.get("/")
@login_required
@require("catalogue.view")
def index():
    db = get_db()
    rows = db.exec(
        select(Scheme, SchemeLevel, CertificateModel)
        .join(SchemeLevel, SchemeLevel.scheme_id == Scheme.id)
        .outerjoin(CertificateModel, CertificateModel.scheme_level_id == SchemeLevel.id)
        .order_by(Scheme.name, SchemeLevel.level, CertificateModel.name)
    ).all()
    qualified = set(db.exec(select(LevelQualification.scheme_level_id).distinct()).all())
    # keyed by id (table models are not hashable), in the query's order
    schemes: dict[int, Scheme] = {}
    levels: dict[int, list[SchemeLevel]] = defaultdict(list)
    models: dict[int, list[CertificateModel]] = defaultdict(list)
    for scheme, level, model in rows:
        schemes.setdefault(scheme.id, scheme)
        if level not in levels[scheme.id]:
            levels[scheme.id].append(level)
        if model is not None:
            models[level.id].append(model)
    return render_template(
        "catalogue/index.html",
        schemes=list(schemes.values()),
        levels=levels,
        models=models,
        qualified=qualified,
    )


# --- the page of one dispositif-level ----------------------------------------------------


def _ids(form, prefix: str):
    """Unique element ids on a page of several forms; the posted names stay the fields'."""
    for f in form:
        f.id = f"{prefix}-{f.name}"
    return form


def _fresh_forms(page: catalogue.LevelPage) -> dict:
    """Each block's form filled from what is stored (formdata=None: never from the
    request being answered)."""
    level, scheme = page.level, page.scheme
    forms = {
        "dispositif": SchemeForm(formdata=None, obj=scheme),
        "regles": LevelRulesForm(formdata=None, obj=level),
        "nouveau": ModelForm(formdata=None, data={"active": True, "issued_in_sessions": True}),
        "qualification": QualificationForm(formdata=None),
    }
    for model in page.models:
        forms[f"m{model.id}"] = ModelForm(formdata=None, obj=model)
    for requirement in page.requirements:
        forms[f"doc{requirement.id}"] = RequirementForm(formdata=None, obj=requirement)
    return forms


def _check_urls(page: catalogue.LevelPage) -> dict[str, str]:
    level_id = page.level.id
    urls = {
        "dispositif": url_for("catalogue.check_scheme", level_id=level_id),
        "regles": url_for("catalogue.check_rules", level_id=level_id),
        "nouveau": url_for("catalogue.check_new_model", level_id=level_id),
    }
    for model in page.models:
        urls[f"m{model.id}"] = url_for(
            "catalogue.check_model", level_id=level_id, model_id=model.id
        )
    for requirement in page.requirements:
        urls[f"doc{requirement.id}"] = url_for(
            "catalogue.check_requirement", level_id=level_id, requirement_id=requirement.id
        )
    return urls


def _level_or_404(level_id: int) -> catalogue.LevelPage:
    page = catalogue.level_page(get_db(), level_id)
    if page is None:
        abort(404)
    return page


def _render(level_id: int, status: int = 200, *, posted=None, messages=None, **extra):
    """The level's page (or its panel for htmx): every block's form fresh from the
    database, except the one posted (kept as typed, with its messages)."""
    db = get_db()
    page = _level_or_404(level_id)
    forms = _fresh_forms(page)
    forms.update(posted or {})
    for key, form in forms.items():
        _ids(form, key)
    forms["qualification"].model_id.choices = [("", "Choisissez un certificat")] + [
        (str(model_id), label) for model_id, label in page.qualification_choices
    ]
    urls = _check_urls(page)

    def live(key: str, f) -> dict:
        """htmx attributes for the inline check of one field: the block's form is posted
        to its check URL and only the field's own block is swapped, so what is being
        typed elsewhere is never replaced."""
        target = f"#{f.id}-champ"
        return {
            "data-hx-post": urls[key],
            "data-hx-trigger": "change",
            "data-hx-include": "closest form",
            "data-hx-target": target,
            "data-hx-select": target,
            "data-hx-swap": "outerHTML",
        }

    history = paginate(db, catalogue.history_statement(db, page))
    return render_page_or_fragment(
        "catalogue/level.html",
        "catalogue/_level.html",
        status,
        screen=page,
        forms=forms,
        live=live,
        shown=catalogue.shown,
        messages=messages or {},
        history=history,
        history_lines=catalogue.history_lines(page, history.items),
        action_form=ActionForm(formdata=None),
        **extra,
    )


@bp.get("/niveaux/<int:level_id>")
@login_required
@require("catalogue.view")
def level(level_id: int):
    return _render(level_id)


def _shown_values(names) -> dict[str, str]:
    """The values the form was shown; a form without them is damaged or forged (400)."""
    values = {}
    for name in names:
        key = f"was_{name}"
        if key not in request.form:
            abort(400)
        values[name] = request.form[key]
    return values


def _typed(form) -> dict:
    return {f.name: f.data for f in form if f.name != "csrf_token"}


def _save(level_id: int, key: str, form, write, success: str, *, shown=True, keep=True):
    """Validate, write, commit; a refusal changes nothing and shows the block's form as
    typed with its messages (422), a stale form the block as stored now (409). `keep`:
    the posted form is the block's own (not a button's), shown again as typed."""
    db = get_db()
    shown_values = _shown_values(n for n in _typed(form)) if shown else {}
    posted = {key: form} if keep else {}
    if not form.validate():
        return _render(level_id, 422, posted=posted, messages={key: ("error", _INVALID)})
    try:
        write(db, _typed(form), shown_values)
    except ConflictError as exc:
        db.rollback()
        return _render(level_id, 409, messages={key: ("conflict", exc.message)})
    except catalogue.InvalidFields as exc:
        db.rollback()
        for name, message in exc.errors.items():
            getattr(form, name).errors = [message]
        return _render(level_id, 422, posted=posted)
    except DomainError as exc:
        db.rollback()
        if keep and exc.field and hasattr(form, exc.field):
            getattr(form, exc.field).errors = [exc.message]
            return _render(level_id, 422, posted=posted)
        return _render(level_id, 422, posted=posted, messages={key: ("error", exc.message)})
    db.commit()
    return after_save(
        lambda saved: _render(level_id, messages={key: ("saved", saved)}),
        url_for("catalogue.level", level_id=level_id) + f"#bloc-{key}",
        success,
    )


def _check(level_id: int, key: str, form, rule):
    """Inline validation: the page with the block's form as typed and its messages;
    nothing is saved."""
    form.validate()
    _values, errors = rule(_typed(form))
    for name, message in errors.items():
        getattr(form, name).errors = [message]
    status = 422 if any(f.errors for f in form) else 200
    return _render(level_id, status, posted={key: form})


def _actor() -> int:
    return g.active_role.person_id


# the dispositif


@bp.post("/niveaux/<int:level_id>/dispositif")
@login_required
@require("catalogue.edit")
def save_scheme(level_id: int):
    page = _level_or_404(level_id)
    return _save(
        level_id,
        "dispositif",
        SchemeForm(),
        lambda db, data, was: catalogue.update_scheme(
            db, actor_id=_actor(), scheme_id=page.scheme.id, data=data, shown_values=was
        ),
        "Dispositif enregistré.",
    )


@bp.post("/niveaux/<int:level_id>/dispositif/verifier")
@login_required
@require("catalogue.edit")
def check_scheme(level_id: int):
    _level_or_404(level_id)
    return _check(level_id, "dispositif", SchemeForm(), catalogue.check_scheme)


# the session rules


@bp.post("/niveaux/<int:level_id>/regles")
@login_required
@require("catalogue.edit")
def save_rules(level_id: int):
    _level_or_404(level_id)
    return _save(
        level_id,
        "regles",
        LevelRulesForm(),
        lambda db, data, was: catalogue.update_level_rules(
            db, actor_id=_actor(), level_id=level_id, data=data, shown_values=was
        ),
        "Règles de session enregistrées.",
    )


@bp.post("/niveaux/<int:level_id>/regles/verifier")
@login_required
@require("catalogue.edit")
def check_rules(level_id: int):
    _level_or_404(level_id)
    return _check(level_id, "regles", LevelRulesForm(), catalogue.check_level_rules)


# certificate models


def _model_or_404(level_id: int, model_id: int) -> CertificateModel:
    model = get_db().get(CertificateModel, model_id)
    if model is None or model.scheme_level_id != level_id:
        abort(404)
    return model


@bp.post("/niveaux/<int:level_id>/certificats/<int:model_id>")
@login_required
@require("catalogue.edit")
def save_model(level_id: int, model_id: int):
    _model_or_404(level_id, model_id)
    return _save(
        level_id,
        f"m{model_id}",
        ModelForm(),
        lambda db, data, was: catalogue.update_model(
            db, actor_id=_actor(), model_id=model_id, data=data, shown_values=was
        ),
        "Certificat enregistré.",
    )


@bp.post("/niveaux/<int:level_id>/certificats/<int:model_id>/verifier")
@login_required
@require("catalogue.edit")
def check_model(level_id: int, model_id: int):
    _model_or_404(level_id, model_id)
    return _check(
        level_id,
        f"m{model_id}",
        ModelForm(),
        lambda data: catalogue.check_model(get_db(), data, level_id, model_id),
    )


@bp.post("/niveaux/<int:level_id>/certificats")
@login_required
@require("catalogue.edit")
def add_model(level_id: int):
    _level_or_404(level_id)
    return _save(
        level_id,
        "nouveau",
        ModelForm(),
        lambda db, data, _was: catalogue.add_model(
            db, actor_id=_actor(), level_id=level_id, data=data
        ),
        "Certificat ajouté.",
        shown=False,
    )


@bp.post("/niveaux/<int:level_id>/certificats/verifier")
@login_required
@require("catalogue.edit")
def check_new_model(level_id: int):
    _level_or_404(level_id)
    return _check(
        level_id,
        "nouveau",
        ModelForm(),
        lambda data: catalogue.check_model(get_db(), data, level_id),
    )


# documents of an accreditation request


def _requirement_or_404(level_id: int, requirement_id: int) -> DocumentRequirement:
    requirement = get_db().get(DocumentRequirement, requirement_id)
    if requirement is None or requirement.scheme_level_id != level_id:
        abort(404)
    return requirement


@bp.post("/niveaux/<int:level_id>/documents/<int:requirement_id>")
@login_required
@require("catalogue.edit")
def save_requirement(level_id: int, requirement_id: int):
    _requirement_or_404(level_id, requirement_id)
    return _save(
        level_id,
        f"doc{requirement_id}",
        RequirementForm(),
        lambda db, data, was: catalogue.update_requirement(
            db, actor_id=_actor(), requirement_id=requirement_id, data=data, shown_values=was
        ),
        "Document enregistré.",
    )


@bp.post("/niveaux/<int:level_id>/documents/<int:requirement_id>/verifier")
@login_required
@require("catalogue.edit")
def check_requirement(level_id: int, requirement_id: int):
    _requirement_or_404(level_id, requirement_id)
    return _check(level_id, f"doc{requirement_id}", RequirementForm(), catalogue.check_requirement)


# the qualifications a trainer needs


@bp.post("/niveaux/<int:level_id>/qualifications")
@login_required
@require("catalogue.edit")
def add_qualification(level_id: int):
    _level_or_404(level_id)
    return _save(
        level_id,
        "qualification",
        QualificationForm(),
        lambda db, data, _was: catalogue.add_qualification(
            db, actor_id=_actor(), level_id=level_id, model_id=data["model_id"]
        ),
        "Qualification ajoutée.",
        shown=False,
    )


@bp.post("/niveaux/<int:level_id>/qualifications/<int:qualification_id>/retirer")
@login_required
@require("catalogue.edit")
def remove_qualification(level_id: int, qualification_id: int):
    _level_or_404(level_id)
    return _save(
        level_id,
        "qualification",
        ActionForm(),
        lambda db, _data, _was: catalogue.remove_qualification(
            db, actor_id=_actor(), level_id=level_id, qualification_id=qualification_id
        ),
        "Qualification retirée.",
        shown=False,
        keep=False,
    )
