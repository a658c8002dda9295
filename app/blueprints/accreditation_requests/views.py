"""Accreditation requests: the tabbed request (Informations / Entité / Pédagogique /
Technique) the gestionnaire prepares and the caisse and the CNH read.

Every view is thin: parse the form, call app/domain/accreditation_flow.py, render. The
tabs follow app/tabs.py like the certification session's: each tab a URL and an htmx
panel, the draft saved on moving to another tab, a version in every form (409 when stale).
The instruction and the CNH decision (decisions.py) render through `render_request`.
"""

from flask import Blueprint, Response, abort, flash, g, render_template, request, url_for
from flask_login import login_required
from sqlmodel import select

from app.blueprints.accreditation_requests.forms import (
    DocumentForm,
    EquipmentForm,
    InformationsForm,
    PedagogiqueForm,
    PlatformForm,
    TechniqueForm,
    level_choices,
)
from app.domain import accreditation_flow as flow
from app.domain.access import accreditation_scope, can, require
from app.domain.errors import ConflictError, DomainError
from app.domain.uploads import has_file
from app.extensions import get_db
from app.models import (
    Accreditation,
    AccreditationRequest,
    Equipment,
    Fund,
    Organization,
    Platform,
    RequestDocument,
    Scheme,
    SchemeLevel,
)
from app.models.accreditations import (
    REQUEST_KIND_LABELS,
    REQUEST_PHASE_LABELS,
    RequestKind,
    RequestPhase,
)
from app.models.organizations import ORGANIZATION_KIND_LABELS
from app.tabs import after_save, conflict, go_to, next_tab, posted_version, render_tab, tab_list
from app.web import is_htmx, send_stored_file

bp = Blueprint("accreditation_requests", __name__, url_prefix="/habilitations/demandes")

TABS = {
    "informations": "Informations",
    "entite": "Entité",
    "pedagogique": "Pédagogique",
    "technique": "Technique",
    "historique": "Historique",
}
# the tabs whose fields are kept as a draft when the person moves to another tab
DRAFT_FORMS = {
    "informations": InformationsForm,
    "pedagogique": PedagogiqueForm,
    "technique": TechniqueForm,
}
EVENT_LABELS = {
    "accreditation_request.created": "Création",
    "accreditation_request.submitted": "Soumise à la caisse",
    "accreditation_request.abandoned": "Abandonnée",
    "accreditation_request.phase_1_started": "Instruction commencée (phase 1)",
    "accreditation_request.instruction_phase_1_complete": "Phase 1 complète",
    "accreditation_request.instruction_phase_2_complete": "Phase 2 complète : décision CNH",
    "accreditation_request.returned": "Incomplète : renvoyée à l'entité",
    "accreditation_request.favourable": "Décision favorable",
    "accreditation_request.unfavourable": "Décision défavorable",
}


# --- what the other views of the request use (decisions.py too) ---------------------------


def load_request(request_id: int) -> AccreditationRequest:
    """The request if the active role may open it, else 404."""
    found = flow.get_for_role(get_db(), g.active_role, request_id)
    if found is None:
        abort(404)
    return found


def tabs_for(db, req: AccreditationRequest) -> list[str]:
    keys = ["informations", "entite", "pedagogique"]
    if flow.is_technical(db, req):
        keys.append("technique")  # CATEC, échafaudages: platforms and equipment
    return [*keys, "historique"]


def tab_url(req: AccreditationRequest, tab: str) -> str:
    return url_for("accreditation_requests.tab", request_id=req.id, tab=tab)


def _has_draft(req: AccreditationRequest, tab: str, editable: bool) -> bool:
    # a renewal keeps the dispositif of the accreditation it renews, a request sent back the
    # one the caisse instructed (flow.save_pedagogique): nothing to draft there
    fixed = tab == "pedagogique" and (
        req.kind == RequestKind.RENEWAL or req.phase != RequestPhase.DRAFT
    )
    return editable and tab in DRAFT_FORMS and not fixed


def _steps(req: AccreditationRequest) -> list[tuple[int, str, str]]:
    """The progress bar: (number, label, "done" | "current" | "todo")."""
    step = flow.step_of(req)
    return [
        (
            number,
            REQUEST_PHASE_LABELS[phase],
            "done" if number < step else "current" if number == step else "todo",
        )
        for number, phase in enumerate(flow.STEPS, 1)
    ]


def render_request(req: AccreditationRequest, tab: str, status: int = 200, **extra):
    """The request's page, or its panel for htmx; `extra` goes to the templates as it is
    (decision_errors, decision_values, conflict, error, saved…)."""
    db = get_db()
    role = g.active_role
    keys = tabs_for(db, req)
    if tab not in keys:
        tab = "informations"  # e.g. the Technique tab of a dispositif without one
    actions = flow.allowed_actions(role, req)
    editable = flow.Action.EDIT in actions
    level = db.get(SchemeLevel, req.scheme_level_id) if req.scheme_level_id else None
    context = {
        "req": req,
        "organization": db.get(Organization, req.organization_id),
        "scheme": db.get(Scheme, level.scheme_id) if level else None,
        "level": level,
        "fund": db.get(Fund, req.fund_id),
        "tab": tab,
        "tabs": tab_list(TABS, keys, lambda key: tab_url(req, key)),
        "actions": actions,
        "A": flow.Action,
        "step": flow.step_of(req),
        "version": req.version,
        "editable": editable,
        "steps": _steps(req),
        "phase_label": REQUEST_PHASE_LABELS[RequestPhase(req.phase)],
        "kind_label": REQUEST_KIND_LABELS[RequestKind(req.kind)],
        "tab_url": lambda key: tab_url(req, key),
        "live": lambda endpoint, form_id: _live(
            url_for(f".{endpoint}", request_id=req.id), form_id
        ),
        "draft_url": (
            (lambda key: url_for(".save", request_id=req.id, tab=tab, aller=key))
            if _has_draft(req, tab, editable)
            else None
        ),
        "accreditation": _accreditation_of(db, req),
        "renewed": db.get(Accreditation, req.renewal_of_id) if req.renewal_of_id else None,
        # the entity's requests are listed with its accreditations; the others', in the queue
        "back_url": url_for("accreditations.index")
        if role.role in flow.ENTITY_ROLES
        else url_for("instruction.requests"),
    }
    context.update(_TAB_CONTEXT[tab](db, req, editable, extra))
    context.update(extra)
    return render_tab(
        "accreditation_requests/page.html",
        "accreditation_requests/_panel.html",
        url=tab_url(req, tab),
        status=status,
        **context,
    )


def _live(check_url: str, form_id: str):
    def attrs(f, **more) -> dict:
        """htmx attributes of a field's inline check: on leaving it (a change), its form
        is posted to `check_url` and the field comes back with its message."""
        target = f"#{f.id}-champ"
        return {
            "data-hx-post": check_url,
            "data-hx-trigger": "change",
            "data-hx-include": f"#{form_id}",
            "data-hx-target": target,
            "data-hx-select": target,
            "data-hx-swap": "outerHTML",
            **more,
        }

    return attrs


def request_conflict(request_id: int, tab: str, message: str):
    """409: someone saved first; the request as it is now, on `tab`, with the message."""
    db = get_db()
    return conflict(
        db,
        lambda: flow.get_for_role(db, g.active_role, request_id),
        lambda fresh, status, **extra: render_request(fresh, tab, status, **extra),
        message,
    )


def _accreditation_of(db, req: AccreditationRequest) -> Accreditation | None:
    if req.phase != RequestPhase.FAVOURABLE:
        return None
    return db.exec(select(Accreditation).where(Accreditation.request_id == req.id)).first()


# --- each tab's content ------------------------------------------------------------------


def _documents_by_kind(db, req: AccreditationRequest) -> dict[str, list]:
    documents: dict[str, list] = {}
    for document, stored in flow.documents_of(db, req.id):
        documents.setdefault(document.kind, []).append((document, stored))
    return documents


def _document_form(requirement, form=None) -> DocumentForm:
    form = form or DocumentForm(formdata=None, prefix=requirement.kind)
    form.fichier.label.text = requirement.label + ("" if requirement.required else " (facultatif)")
    hint = requirement.help_text + " " if requirement.help_text else ""
    form.fichier.description = hint + (
        "Fichiers PDF : chaque dépôt s'ajoute aux précédents."
        if requirement.multiple
        else "Un fichier PDF : un nouveau dépôt remplace le précédent."
    )
    return form


def _requirements_context(db, req, tab: str, extra: dict) -> dict:
    requirements = [r for r in flow.requirements_of(db, req.scheme_level_id) if r.tab == tab]
    posted = extra.pop("document_forms", {})
    return {
        "requirements": requirements,
        "documents": _documents_by_kind(db, req),
        "document_forms": {r.kind: _document_form(r, posted.get(r.kind)) for r in requirements},
    }


def _informations(db, req, editable, extra) -> dict:
    form = extra.pop("informations_form", None) or InformationsForm(
        formdata=None, data={"requester_comment": req.requester_comment}
    )
    context = {
        "gestionnaires": flow.gestionnaires_of(db, req.organization_id),
        "informations_form": form,
    }
    if flow.allowed(g.active_role, req, flow.Action.SUBMIT):
        context["missing"] = flow.missing(db, req)
    return context


def _entite(db, req, editable, extra) -> dict:
    return {
        "kind_labels": ORGANIZATION_KIND_LABELS,
        "can_edit_entity": can(g.active_role, "organization.edit"),
    }


def _pedagogique(db, req, editable, extra) -> dict:
    form = extra.pop("pedagogique_form", None) or PedagogiqueForm(
        formdata=None, data={"scheme_level_id": req.scheme_level_id}
    )
    if _has_draft(req, "pedagogique", editable):
        current = None
        if req.scheme_level_id:
            level = db.get(SchemeLevel, req.scheme_level_id)
            scheme = db.get(Scheme, level.scheme_id)
            current = (level.id, f"{scheme.code} / {level.level} — {scheme.name}")
        level_choices(form, flow.requestable_levels(db, req.organization_id, req), current)
    check = extra.pop("level_check", None)
    if check:
        form.scheme_level_id.errors = [check]
    return {
        "pedagogique_form": form,
        # chosen on screen but not saved yet: its documents show once it is saved
        "level_unsaved": form.scheme_level_id.data != req.scheme_level_id,
        **_requirements_context(db, req, "pedagogique", extra),
    }


def _technique(db, req, editable, extra) -> dict:
    return {
        "technique_form": extra.pop("technique_form", None)
        or TechniqueForm(formdata=None, data={"mobile_platform": req.mobile_platform}),
        "platforms": flow.platforms_of_request(db, req.id),
        "platform_form": extra.pop("platform_form", None)
        or PlatformForm(formdata=None, prefix="plateforme"),
        "equipment": flow.equipment_of_request(db, req.id),
        "equipment_form": extra.pop("equipment_form", None)
        or EquipmentForm(formdata=None, prefix="materiel"),
        **_requirements_context(db, req, "technique", extra),
    }


def _historique(db, req, editable, extra) -> dict:
    return {
        "events": flow.history(db, req.id),
        "event_labels": EVENT_LABELS,
        "phase_labels": REQUEST_PHASE_LABELS,
    }


_TAB_CONTEXT = {
    "informations": _informations,
    "entite": _entite,
    "pedagogique": _pedagogique,
    "technique": _technique,
    "historique": _historique,
}


# --- a new request, a renewal ----------------------------------------------------------------


@bp.post("/nouvelle")
@login_required
@require("accreditation_request.manage")
def create():
    """ "Demande d'habilitation": a draft; the dispositif is chosen on its Pédagogique tab."""
    db = get_db()
    try:
        req = flow.new_request(db, g.active_role)
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("accreditations.index"))
    db.commit()
    flash(
        f"Demande d'habilitation n° {req.id} créée. Choisissez le dispositif et le niveau "
        "sur l'onglet Pédagogique."
    )
    return go_to(tab_url(req, "informations"))


@bp.post("/renouveler/<int:accreditation_id>")
@login_required
@require("accreditation_request.manage")
def renew(accreditation_id: int):
    """ "Renouveler": a renewal draft pre-filled from the accreditation (from 12 months
    before its end; a forged POST earlier is refused here by the same rule)."""
    db = get_db()
    accreditation = db.exec(
        select(Accreditation).where(
            Accreditation.id == accreditation_id, accreditation_scope(g.active_role)
        )
    ).first()
    if accreditation is None:
        abort(404)
    version = posted_version(request.form)  # the accreditation as the list showed it
    try:
        req = flow.start_renewal(db, g.active_role, accreditation, version)
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return go_to(url_for("accreditations.index"))
    db.commit()
    flash(
        f"Demande de renouvellement n° {req.id} créée, reprise de l'habilitation "
        f"{accreditation.number} : vérifiez chaque onglet puis soumettez-la."
    )
    return go_to(tab_url(req, "informations"))


# --- the request's tabs ------------------------------------------------------------------


@bp.get("/<int:request_id>")
@login_required
@require("accreditation_request.view")
def show(request_id: int):
    return go_to(tab_url(load_request(request_id), "informations"))


@bp.get("/<int:request_id>/<tab>")
@login_required
@require("accreditation_request.view")
def tab(request_id: int, tab: str):
    req = load_request(request_id)
    if tab not in tabs_for(get_db(), req):
        abort(404)
    return render_request(req, tab)


def _draft_error(form, exc: DomainError) -> str | None:
    """Put a refusal next to its field; what belongs to no field is said above the tabs."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [exc.message]
        return None
    return exc.message


@bp.post("/<int:request_id>/<tab>")
@login_required
@require("accreditation_request.manage")
def save(request_id: int, tab: str):
    """Save a tab's draft (its Enregistrer button, or moving to another tab: `aller` names
    it). Nothing is written when nothing changed."""
    db = get_db()
    req = load_request(request_id)
    keys = tabs_for(db, req)
    if tab not in DRAFT_FORMS or tab not in keys:
        abort(404)
    version = posted_version(request.form)
    go = next_tab(keys, tab)
    form = DRAFT_FORMS[tab]()
    before = req.version
    try:
        if not form.validate():
            raise DomainError(next(iter(form.errors.values()))[0])
        if tab == "informations":
            flow.save_informations(db, g.active_role, req, version, form.requester_comment.data)
        elif tab == "pedagogique":
            flow.save_pedagogique(db, g.active_role, req, version, form.scheme_level_id.data)
        else:
            flow.save_technique(db, g.active_role, req, version, form.mobile_platform.data)
    except ConflictError as exc:
        return request_conflict(request_id, tab, exc.message)
    except DomainError as exc:
        db.rollback()
        error = _draft_error(form, exc)
        return render_request(req, tab, 422, error=error, **{f"{tab}_form": form})
    db.commit()
    if req.version == before:  # nothing changed: nothing to say
        return render_request(req, go) if is_htmx() else go_to(tab_url(req, go))
    return after_save(
        lambda **saved: render_request(req, go, **saved),
        tab_url(req, go),
        f"Onglet {TABS[tab]} enregistré.",
    )


@bp.post("/<int:request_id>/pedagogique/verifier")
@login_required
@require("accreditation_request.manage")
def check_level(request_id: int):
    """Inline check of the dispositif chosen: the tab with the rule's message next to the
    field; nothing is saved."""
    db = get_db()
    req = load_request(request_id)
    posted_version(request.form)  # the form the page gave (400 for a damaged one)
    if flow.Action.EDIT not in flow.allowed_actions(g.active_role, req):
        return _gone(req, "pedagogique")
    form = PedagogiqueForm()
    form.validate()
    message = flow.check_scheme_level(db, req.organization_id, form.scheme_level_id.data, req)
    return render_request(
        req, "pedagogique", 422 if message else 200, pedagogique_form=form, level_check=message
    )


def _gone(req: AccreditationRequest, tab: str):
    """A field checked on a request sent or abandoned meanwhile: its form is gone from the
    tab, so htmx swaps the whole panel as it is now (409 with the conflict's message)
    instead of the field alone."""
    body, status, headers = render_request(req, tab, 409, conflict=flow.CONFLICT)
    headers.update(
        {
            "HX-Retarget": "#demande-onglets",
            "HX-Reselect": "#demande-onglets",
            "HX-Reswap": "outerHTML",
        }
    )
    return body, status, headers


def _checked(req: AccreditationRequest, tab: str, key: str, form, errors: dict[str, str]):
    """An inline check: the tab with the rule's message next to each field typed so far
    (an empty one is said missing when the form is sent, as a draft is judged); nothing
    is saved."""
    posted_version(request.form)  # the form the page gave (400 for a damaged one)
    if flow.Action.EDIT not in flow.allowed_actions(g.active_role, req):
        return _gone(req, tab)
    form.validate()  # the base form's refusals first (a line break in a one-line field)
    for f in form:
        if not f.errors and f.short_name in errors and (f.data or "").strip():
            f.errors = [errors[f.short_name]]
    refused = any(f.errors for f in form)
    return render_request(req, tab, 422 if refused else 200, **{key: form})


@bp.post("/<int:request_id>/informations/verifier")
@login_required
@require("accreditation_request.manage")
def check_comment(request_id: int):
    """Inline check of the entity's comment (its length), by the rule of the save."""
    req = load_request(request_id)
    form = InformationsForm()
    message = flow.check_comment(form.requester_comment.data)
    errors = {"requester_comment": message} if message else {}
    return _checked(req, "informations", "informations_form", form, errors)


@bp.post("/<int:request_id>/plateformes/verifier")
@login_required
@require("accreditation_request.manage")
def check_platform(request_id: int):
    """Inline check of a fixed platform being typed, by the rule of "Ajouter la
    plateforme"."""
    req = _technical(request_id)
    form = PlatformForm(prefix="plateforme")
    errors = flow.check_platform(_platform_values(form), get_db())
    return _checked(req, "technique", "platform_form", form, errors)


@bp.post("/<int:request_id>/materiel/verifier")
@login_required
@require("accreditation_request.manage")
def check_equipment(request_id: int):
    """Inline check of a line of equipment being typed, by the rule of "Ajouter le
    matériel"."""
    req = _technical(request_id)
    form = EquipmentForm(prefix="materiel")
    errors = flow.check_equipment(_equipment_values(form))
    return _checked(req, "technique", "equipment_form", form, errors)


@bp.get("/<int:request_id>/lettre-engagement")
@login_required
@require("accreditation_request.view")
def commitment_letter(request_id: int):
    """The commitment letter to sign, filled with the entity, its signataire and the
    dispositif."""
    from app.domain.accreditation_letters import commitment_letter_pdf

    req = load_request(request_id)
    if req.scheme_level_id is None:
        abort(404)
    return Response(
        commitment_letter_pdf(get_db(), req),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": (
                f'attachment; filename="lettre-engagement-demande-{req.id}.pdf"'
            ),
            "Cache-Control": "no-store",  # the entity's data: not kept by a shared browser
        },
    )


# --- documents, platforms, equipment -------------------------------------------------------


@bp.post("/<int:request_id>/deposer/<kind>")
@login_required
@require("accreditation_request.manage")
def add_document(request_id: int, kind: str):
    """A document asked for: one file replaces the one before, several add up. A refused
    file (not a PDF, too large…) is named next to its field and nothing is stored."""
    db = get_db()
    req = load_request(request_id)
    requirement = next(
        (r for r in flow.requirements_of(db, req.scheme_level_id) if r.kind == kind), None
    )
    if requirement is None:
        abort(404)
    version = posted_version(request.form)
    form = DocumentForm(prefix=kind)
    files = [f for f in request.files.getlist(form.fichier.name) if has_file(f)] or [None]
    if not requirement.multiple:
        files = files[:1]
    try:
        if not form.validate():
            raise DomainError(form.label.errors[0], field="label")
        for file in files:
            flow.add_document(db, g.active_role, req, version, kind, file, form.label.data)
            version = req.version  # each file is a change of its own
    except ConflictError as exc:
        return request_conflict(request_id, requirement.tab, exc.message)
    except DomainError as exc:
        db.rollback()
        field = form.label if exc.field == "label" else form.fichier
        field.errors = [exc.message]
        return render_request(req, requirement.tab, 422, document_forms={kind: form})
    db.commit()
    count = len(files)
    message = (
        f"« {requirement.label} » : {count} fichiers déposés."
        if count > 1
        else f"« {requirement.label} » : fichier déposé."
    )
    return after_save(
        lambda **saved: render_request(req, requirement.tab, **saved),
        tab_url(req, requirement.tab),
        message,
    )


def _tab_of_document(db, req, document: RequestDocument) -> str:
    requirement = next(
        (r for r in flow.requirements_of(db, req.scheme_level_id) if r.kind == document.kind),
        None,
    )
    return requirement.tab if requirement else "pedagogique"


@bp.get("/<int:request_id>/documents/<int:document_id>")
@login_required
@require("accreditation_request.view")
def download_document(request_id: int, document_id: int):
    req = load_request(request_id)
    stored = flow.document_of(get_db(), req, document_id)
    if stored is None:
        abort(404)
    return send_stored_file(
        stored.id,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
        no_store=True,
    )


@bp.post("/<int:request_id>/documents/<int:document_id>/supprimer")
@login_required
@require("accreditation_request.manage")
def remove_document(request_id: int, document_id: int):
    db = get_db()
    req = load_request(request_id)
    document = db.get(RequestDocument, document_id)
    if document is None or document.request_id != req.id:
        abort(404)
    tab = _tab_of_document(db, req, document)
    return _change(
        req,
        tab,
        lambda version: flow.remove_document(db, g.active_role, req, version, document_id),
        "Document retiré de la demande.",
    )


def _change(req: AccreditationRequest, tab: str, run, message: str):
    """A change named by the form's version; a refusal said above the tabs."""
    db = get_db()
    try:
        run(posted_version(request.form))
    except ConflictError as exc:
        return request_conflict(req.id, tab, exc.message)
    except DomainError as exc:
        db.rollback()
        return render_request(req, tab, 422, error=exc.message)
    db.commit()
    return after_save(lambda **saved: render_request(req, tab, **saved), tab_url(req, tab), message)


def _added(req, form, values, add, key: str, message: str):
    """Add a platform or a line of equipment: the rule's messages next to their fields,
    everything typed kept (422), nothing written."""
    db = get_db()
    version = posted_version(request.form)
    if not form.validate():
        return render_request(req, "technique", 422, **{key: form})
    try:
        errors = add(version, values(form))
    except ConflictError as exc:
        return request_conflict(req.id, "technique", exc.message)
    except DomainError as exc:
        db.rollback()
        return render_request(req, "technique", 422, error=exc.message, **{key: form})
    if errors:
        for name, text in errors.items():
            form[name].errors = [text]
        return render_request(req, "technique", 422, **{key: form})
    db.commit()
    return after_save(
        lambda **saved: render_request(req, "technique", **saved),
        tab_url(req, "technique"),
        message,
    )


def _technical(request_id: int) -> AccreditationRequest:
    req = load_request(request_id)
    if not flow.is_technical(get_db(), req):
        abort(404)
    return req


def _platform_values(form: PlatformForm) -> flow.PlatformInput:
    return flow.PlatformInput(
        name=form.name.data or "",
        address=form.address.data or "",
        postal_code=form.postal_code.data or "",
        city=form.city.data or "",
    )


def _equipment_values(form: EquipmentForm) -> flow.EquipmentInput:
    return flow.EquipmentInput(
        label=form.label.data or "",
        quantity=form.quantity.data or "",
        description=form.description.data,
    )


@bp.post("/<int:request_id>/plateformes")
@login_required
@require("accreditation_request.manage")
def add_platform(request_id: int):
    req = _technical(request_id)
    form = PlatformForm(prefix="plateforme")
    return _added(
        req,
        form,
        _platform_values,
        lambda version, values: flow.add_platform(get_db(), g.active_role, req, version, values),
        "platform_form",
        f"Plateforme « {(form.name.data or '').strip()} » ajoutée.",
    )


@bp.post("/<int:request_id>/plateformes/<int:platform_id>/supprimer")
@login_required
@require("accreditation_request.manage")
def remove_platform(request_id: int, platform_id: int):
    db = get_db()
    req = _technical(request_id)
    platform = db.get(Platform, platform_id)
    if platform is None or platform.request_id != req.id:
        abort(404)
    return _change(
        req,
        "technique",
        lambda version: flow.remove_platform(db, g.active_role, req, version, platform_id),
        f"Plateforme « {platform.name} » retirée.",
    )


@bp.post("/<int:request_id>/materiel")
@login_required
@require("accreditation_request.manage")
def add_equipment(request_id: int):
    req = _technical(request_id)
    form = EquipmentForm(prefix="materiel")
    return _added(
        req,
        form,
        _equipment_values,
        lambda version, values: flow.add_equipment(get_db(), g.active_role, req, version, values),
        "equipment_form",
        f"Matériel « {(form.label.data or '').strip()} » ajouté.",
    )


@bp.post("/<int:request_id>/materiel/<int:equipment_id>/supprimer")
@login_required
@require("accreditation_request.manage")
def remove_equipment(request_id: int, equipment_id: int):
    db = get_db()
    req = _technical(request_id)
    item = db.get(Equipment, equipment_id)
    if item is None or item.request_id != req.id:
        abort(404)
    return _change(
        req,
        "technique",
        lambda version: flow.remove_equipment(db, g.active_role, req, version, equipment_id),
        f"Matériel « {item.label} » retiré.",
    )


# --- Soumettre, Abandonner ------------------------------------------------------------------


@bp.post("/<int:request_id>/soumettre")
@login_required
@require("accreditation_request.manage")
def submit(request_id: int):
    """ "Soumettre" (from the Informations tab, whose comment is saved with it): refused
    with what is still missing, nothing written."""
    db = get_db()
    req = load_request(request_id)
    version = posted_version(request.form)
    form = InformationsForm()
    try:
        if "requester_comment" in request.form:
            before = req.version
            flow.save_informations(db, g.active_role, req, version, form.requester_comment.data)
            if req.version != before:
                version = req.version
        flow.submit(db, g.active_role, req, version)
    except ConflictError as exc:
        return request_conflict(request_id, "informations", exc.message)
    except DomainError as exc:
        db.rollback()
        error = _draft_error(form, exc)
        return render_request(req, "informations", 422, error=error, informations_form=form)
    db.commit()
    flash(
        "Votre demande est soumise à la caisse instructrice : vous suivez son avancement "
        "sur cette page."
    )
    return go_to(tab_url(req, "informations"))


@bp.route("/<int:request_id>/abandonner", methods=["GET", "POST"])
@login_required
@require("accreditation_request.manage")
def abandon(request_id: int):
    """ "Abandonner", confirmed on a page of its own (no JavaScript needed)."""
    db = get_db()
    req = load_request(request_id)
    if request.method == "GET":
        if not flow.allowed(g.active_role, req, flow.Action.ABANDON):
            abort(404)
        return render_template("accreditation_requests/abandon.html", req=req, version=req.version)
    try:
        flow.abandon(db, g.active_role, req, posted_version(request.form))
    except ConflictError as exc:
        return request_conflict(request_id, "informations", exc.message)
    except DomainError as exc:
        db.rollback()
        return render_request(req, "informations", 422, error=exc.message)
    db.commit()
    flash(f"La demande d'habilitation n° {req.id} est abandonnée.")
    return go_to(url_for("accreditations.index"))
