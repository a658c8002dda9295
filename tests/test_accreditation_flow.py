"""The accreditation request's state machine (app/domain/accreditation_flow.py), called
directly: who may do what in which phase, what each transition writes (audit, tasks,
e-mails), what a refusal leaves untouched, the documents each dispositif asks for, the
renewal window, the period and the number a favourable decision gives."""

import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from pypdf import PdfWriter
from sqlmodel import func, select, update
from werkzeug.datastructures import FileStorage

from app.clock import today, utcnow
from app.domain import accreditation_flow as flow
from app.domain.access import ActiveRole
from app.domain.accreditation_flow import Action
from app.domain.errors import ConflictError, DomainError
from app.domain.uploads import NOT_A_PDF, UploadRefused
from app.models import (
    Accreditation,
    AccreditationRequest,
    AuditEvent,
    DocumentRequirement,
    Equipment,
    Notification,
    OutboxEmail,
    Platform,
    RequestDocument,
    RoleGrant,
    Scheme,
    StoredFile,
)
from app.models.accreditations import REQUEST_PHASE_LABELS, RequestKind, RequestPhase
from app.models.people import Role
from tests import factories

P = RequestPhase


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PDF = _pdf()


def upload(data: bytes = PDF, name: str = "document.pdf") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type="application/pdf")


def active(grant: RoleGrant) -> ActiveRole:
    return ActiveRole(
        grant_id=grant.id,
        person_id=grant.person_id,
        role=Role(grant.role),
        organization_id=grant.organization_id,
        fund_id=grant.fund_id,
    )


def count(db, model, *where) -> int:
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


@dataclass
class World:
    org: object
    other_org: object
    people: dict
    roles: dict

    def __getitem__(self, name) -> ActiveRole:
        return self.roles[name]


@pytest.fixture
def w(app, db):
    """An entity of Carsat Alsace-Moselle (67000) with two gestionnaires (one who chose no
    e-mails), one who left, a délégataire and a formateur; two instructors of its caisse, one
    of the Cramif; two administrators; a gestionnaire of another entity."""
    with app.test_request_context():
        assert db.exec(select(DocumentRequirement.id)).first(), "le catalogue des documents"
        org = factories.organization(db, postal_code="67000")
        org.signatory_last_name, org.signatory_first_name = "DURAND", "Claire"
        org.signatory_function = "Directrice"
        other = factories.organization(db, postal_code="75011", fund_code="CRAMIF")
        alsace, cramif = factories.fund(db), factories.fund(db, "CRAMIF")
        people, roles = {}, {}

        def make(name, role, *, organization=None, fund=None, **fields):
            person = factories.person(db, first_name=name.capitalize(), last_name=name, **fields)
            grant = factories.grant(db, person, role, organization=organization, fund_=fund)
            people[name], roles[name] = person, active(grant)

        make("gestionnaire", Role.GESTIONNAIRE, organization=org)
        make("gestionnaire_sans_mail", Role.GESTIONNAIRE, organization=org)
        make("gestionnaire_parti", Role.GESTIONNAIRE, organization=org, active=False)
        make("delegataire", Role.DELEGATAIRE, organization=org)
        make("formateur", Role.FORMATEUR)
        make("instructeur", Role.INSTRUCTEUR, fund=alsace)
        make("instructeur_collegue", Role.INSTRUCTEUR, fund=alsace)
        make("instructeur_autre_caisse", Role.INSTRUCTEUR, fund=cramif)
        make("administrateur", Role.ADMINISTRATEUR)
        make("administrateur_2", Role.ADMINISTRATEUR)
        make("gestionnaire_autre_entite", Role.GESTIONNAIRE, organization=other)
        people["gestionnaire_sans_mail"].notify_notifications = False
        db.add(people["gestionnaire_sans_mail"])
        db.add(org)
        db.commit()
        yield World(org, other, people, roles)


def level_id(db, scheme="SST", level=1) -> int:
    return factories.scheme_level(db, scheme, level).id


def prepare(db, w, scheme="SST", level=1) -> AccreditationRequest:
    """A draft with everything "Soumettre" asks for."""
    g = w["gestionnaire"]
    request = flow.new_request(db, g)
    flow.save_pedagogique(db, g, request, request.version, level_id(db, scheme, level))
    for requirement in flow.requirements_of(db, request.scheme_level_id):
        if requirement.required:
            flow.add_document(
                db, g, request, request.version, requirement.kind, upload(name=requirement.kind)
            )
    if flow.is_technical(db, request):
        assert not flow.add_platform(db, g, request, request.version, PORT)
        assert not flow.add_equipment(
            db, g, request, request.version, flow.EquipmentInput("Détecteur 4 gaz", "6")
        )
    db.commit()
    assert flow.missing(db, request) == []
    return request


PORT = flow.PlatformInput("Plateforme du port", "5 rue du Port du Rhin", "67100", "STRASBOURG")


def force(db, request, phase: RequestPhase, returned_from=P.PHASE_1) -> None:
    """Put a request in `phase` as if it had got there (to try each action on it)."""
    db.exec(
        update(AccreditationRequest)
        .where(AccreditationRequest.id == request.id)
        .values(
            phase=phase,
            submitted_at=None if phase == P.DRAFT else utcnow(),
            returned_from=returned_from if phase == P.RETURNED else None,
        )
    )
    db.commit()
    db.refresh(request)


def snapshot(db, request_id: int):
    """Everything a transition may write."""
    db.expire_all()
    row = db.get(AccreditationRequest, request_id).model_dump()
    counts = {
        model.__name__: count(db, model)
        for model in (
            AccreditationRequest,
            AuditEvent,
            Notification,
            OutboxEmail,
            StoredFile,
            RequestDocument,
            Platform,
            Equipment,
            Accreditation,
        )
    }
    open_tasks = count(db, Notification, Notification.done_at.is_(None))
    return row, counts, open_tasks


def open_tasks(db, request_id) -> dict[str, str]:
    """{last name: title} of the request's open tasks."""
    from app.models import Person

    rows = db.exec(
        select(Person.last_name, Notification.title, Notification.link)
        .join(Person, Person.id == Notification.person_id)
        .where(
            Notification.object_type == "accreditation_request",
            Notification.object_id == request_id,
            Notification.done_at.is_(None),
        )
    ).all()
    for _name, _title, link in rows:
        assert link.startswith(f"/habilitations/demandes/{request_id}/")
    return {name: title for name, title, _link in rows}


def mails_to(db, person) -> int:
    return count(db, OutboxEmail, OutboxEmail.to_address == person.email)


def trail(db, request_id) -> list[tuple]:
    return [
        (event.action.removeprefix("accreditation_request."), event.from_state, event.to_state)
        for event, _person in flow.history(db, request_id)
    ]


# --- who may do what, phase by phase ------------------------------------------------------

ACTORS = [
    "gestionnaire",
    "gestionnaire_autre_entite",
    "delegataire",
    "formateur",
    "instructeur",
    "instructeur_autre_caisse",
    "administrateur",
]
ENTITY = {Action.EDIT, Action.SUBMIT, Action.ABANDON}
# phase → {actor: actions}; every other (actor, action) is refused
EXPECTED = {
    P.DRAFT: {"gestionnaire": ENTITY},
    P.RETURNED: {"gestionnaire": ENTITY},
    P.FILE_COMPLETE: {"instructeur": {Action.START, Action.INCOMPLETE}},
    P.PHASE_1: {"instructeur": {Action.COMPLETE, Action.INCOMPLETE}},
    P.PHASE_2: {"instructeur": {Action.COMPLETE, Action.INCOMPLETE}},
    P.CNH: {"administrateur": {Action.DECIDE}},
    P.FAVOURABLE: {},
    P.UNFAVOURABLE: {},
    P.ABANDONED: {},
}
# (phase, allowed action) → the phase it leads to
LEADS_TO = {
    (P.DRAFT, Action.EDIT): P.DRAFT,
    (P.DRAFT, Action.SUBMIT): P.FILE_COMPLETE,
    (P.DRAFT, Action.ABANDON): P.ABANDONED,
    (P.RETURNED, Action.EDIT): P.RETURNED,
    (P.RETURNED, Action.SUBMIT): P.PHASE_1,  # back to the phase that returned it
    (P.RETURNED, Action.ABANDON): P.ABANDONED,
    (P.FILE_COMPLETE, Action.START): P.PHASE_1,
    (P.FILE_COMPLETE, Action.INCOMPLETE): P.RETURNED,
    (P.PHASE_1, Action.COMPLETE): P.PHASE_2,
    (P.PHASE_1, Action.INCOMPLETE): P.RETURNED,
    (P.PHASE_2, Action.COMPLETE): P.CNH,
    (P.PHASE_2, Action.INCOMPLETE): P.RETURNED,
    (P.CNH, Action.DECIDE): P.UNFAVOURABLE,
}


def attempts(db, role, request, action):
    """Every call that performs `action` (an edit is any change of a tab's content)."""
    v = request.version
    if action == Action.EDIT:
        document = db.exec(
            select(RequestDocument).where(RequestDocument.request_id == request.id)
        ).first()
        return [
            lambda: flow.save_informations(db, role, request, v, "Un mot pour la caisse"),
            lambda: flow.save_pedagogique(db, role, request, v, level_id(db, "SST", 2)),
            lambda: flow.save_technique(db, role, request, v, True),
            lambda: flow.add_document(db, role, request, v, "engagement", upload()),
            lambda: flow.remove_document(db, role, request, v, document.id),
            lambda: flow.add_platform(db, role, request, v, PORT),
            lambda: flow.add_equipment(db, role, request, v, flow.EquipmentInput("Treuil", 1)),
        ]
    return {
        Action.SUBMIT: [lambda: flow.submit(db, role, request, v)],
        Action.ABANDON: [lambda: flow.abandon(db, role, request, v)],
        Action.START: [lambda: flow.start_instruction(db, role, request, v)],
        Action.COMPLETE: [lambda: flow.complete_phase(db, role, request, v, request.phase)],
        Action.INCOMPLETE: [
            lambda: flow.return_incomplete(db, role, request, v, "Le programme manque.")
        ],
        Action.DECIDE: [
            lambda: flow.decide_unfavourable(db, role, request, v, "Dossier insuffisant."),
            lambda: flow.decide_favourable(db, role, request, v, today()),
        ],
    }[action]


@pytest.mark.parametrize("phase", list(EXPECTED), ids=str)
def test_each_action_is_allowed_to_its_role_in_its_phases_and_refused_otherwise(db, w, phase):
    request = prepare(db, w)
    force(db, request, phase)
    # the rule table, as the views read it
    for actor in ACTORS:
        expected = EXPECTED[phase].get(actor, set())
        assert flow.allowed_actions(w[actor], request) == expected, (phase, actor)

    # every refused call raises and writes nothing
    label = REQUEST_PHASE_LABELS[phase]
    before = snapshot(db, request.id)
    for actor in ACTORS:
        for action in Action:
            if action in EXPECTED[phase].get(actor, set()):
                continue
            for call in attempts(db, w[actor], request, action):
                with pytest.raises(DomainError) as refused:
                    call()
                assert not isinstance(refused.value, ConflictError), (actor, action)
                assert f"« {label} »" in refused.value.message, (actor, action)
                db.commit()  # whatever a refusal might have left is kept, to be seen
                assert snapshot(db, request.id) == before, (phase, actor, action)

    # every allowed action leads where the state machine says
    for actor, actions in EXPECTED[phase].items():
        for action in actions:
            force(db, request, phase)
            attempts(db, w[actor], request, action)[0]()
            db.commit()
            assert request.phase == LEADS_TO[(phase, action)], (phase, action)


def test_instructors_see_their_caisse_s_submitted_requests_only(db, w):
    request = prepare(db, w)
    seen = {actor for actor in ACTORS if flow.get_for_role(db, w[actor], request.id)}
    assert seen == {"gestionnaire"}  # a draft is the entity's alone
    flow.submit(db, w["gestionnaire"], request, request.version)
    db.commit()
    seen = {actor for actor in ACTORS if flow.get_for_role(db, w[actor], request.id)}
    assert seen == {"gestionnaire", "instructeur", "administrateur"}
    assert flow.get_for_role(db, w["instructeur_collegue"], request.id) is not None


# --- the whole path -------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["favourable", "unfavourable"])
def test_the_whole_path_writes_its_trail_and_tells_the_next_people(db, w, outcome):
    g, i, a = w["gestionnaire"], w["instructeur"], w["administrateur"]
    request = flow.new_request(db, g)
    assert (request.kind, request.phase, request.fund_id) == (
        RequestKind.INITIAL,
        P.DRAFT,
        w.org.fund_id,
    )
    assert flow.missing(db, request) == [
        ("pedagogique", "Pédagogique : choisissez le dispositif et le niveau.")
    ]
    flow.save_pedagogique(db, g, request, request.version, level_id(db))
    assert flow.missing(db, request) == [
        ("pedagogique", "Pédagogique : déposez « Lettre d'engagement signée ».")
    ]
    flow.add_document(db, g, request, request.version, "engagement", upload(name="lettre.pdf"))
    assert flow.missing(db, request) == []
    db.commit()
    assert flow.step_of(request) == 0

    # Soumettre: to every instructor of the caisse
    flow.submit(db, g, request, request.version)
    db.commit()
    assert request.phase == P.FILE_COMPLETE and request.submitted_at is not None
    assert flow.step_of(request) == 1
    label = f"Demande d'habilitation n° {request.id} (SST / 1)"
    assert open_tasks(db, request.id) == {
        "instructeur": f"{label} à instruire",
        "instructeur_collegue": f"{label} à instruire",
    }

    flow.start_instruction(db, i, request, request.version)
    db.commit()
    assert request.phase == P.PHASE_1 and flow.step_of(request) == 2
    assert open_tasks(db, request.id) == {}

    # Incomplet needs a comment of at most 2000 characters
    for comment, field_message in (
        ("   ", "Expliquez dans le commentaire"),
        ("x" * 2001, "ne doit pas dépasser 2000 caractères"),
    ):
        with pytest.raises(DomainError) as refused:
            flow.return_incomplete(db, i, request, request.version, comment)
        assert refused.value.field == "comment" and field_message in refused.value.message
    db.commit()
    assert request.phase == P.PHASE_1
    mails_before = {name: mails_to(db, w.people[name]) for name in w.people}
    comment = "La lettre d'engagement n'est pas signée : " + "x" * (2000 - 42)
    assert len(comment) == 2000
    flow.return_incomplete(db, i, request, request.version, comment)
    db.commit()
    assert (request.phase, request.returned_from, request.return_comment) == (
        P.RETURNED,
        P.PHASE_1,
        comment,
    )
    assert flow.step_of(request) == 2
    # every gestionnaire of the entity (not the one who left, not the délégataire)
    assert open_tasks(db, request.id) == {
        "gestionnaire": f"{label} à compléter",
        "gestionnaire_sans_mail": f"{label} à compléter",
    }
    # an e-mail to those who chose to be told
    mails = {name: mails_to(db, w.people[name]) - mails_before[name] for name in w.people}
    assert {name for name, n in mails.items() if n} == {"gestionnaire"}

    # the entity fixes and resubmits: back to phase 1, not to the start
    flow.add_document(db, g, request, request.version, "engagement", upload(name="signee.pdf"))
    flow.submit(db, g, request, request.version)
    db.commit()
    assert request.phase == P.PHASE_1
    assert set(open_tasks(db, request.id)) == {"instructeur", "instructeur_collegue"}

    flow.complete_phase(db, i, request, request.version, P.PHASE_1)
    db.commit()
    assert request.phase == P.PHASE_2 and flow.step_of(request) == 3
    assert open_tasks(db, request.id) == {}
    flow.complete_phase(db, w["instructeur_collegue"], request, request.version, P.PHASE_2)
    db.commit()
    assert request.phase == P.CNH and flow.step_of(request) == 4
    assert open_tasks(db, request.id) == {
        "administrateur": f"{label} : décision CNH à enregistrer",
        "administrateur_2": f"{label} : décision CNH à enregistrer",
    }

    steps = [
        ("created", None, P.DRAFT),
        ("submitted", P.DRAFT, P.FILE_COMPLETE),
        ("phase_1_started", P.FILE_COMPLETE, P.PHASE_1),
        ("returned", P.PHASE_1, P.RETURNED),
        ("submitted", P.RETURNED, P.PHASE_1),
        ("instruction_phase_1_complete", P.PHASE_1, P.PHASE_2),
        ("instruction_phase_2_complete", P.PHASE_2, P.CNH),
    ]
    mails_before = count(db, OutboxEmail)
    if outcome == "favourable":
        accreditation = flow.decide_favourable(db, a, request, request.version, today())
        db.commit()
        assert request.phase == P.FAVOURABLE and flow.step_of(request) == 5
        assert accreditation.number == f"H{w.org.code}/{today().year}/SST-1/O/00"
        assert accreditation.request_id == request.id and accreditation.sequence == 0
        assert (accreditation.start_date, accreditation.end_date) == (
            today(),
            today() + relativedelta(years=5),
        )
        title = f"Habilitation {accreditation.number} accordée"
        created = db.exec(
            select(AuditEvent).where(
                AuditEvent.action == "accreditation.created",
                AuditEvent.object_id == accreditation.id,
            )
        ).one()
        assert created.data["request_id"] == request.id
        steps.append(("favourable", P.CNH, P.FAVOURABLE))
    else:
        with pytest.raises(DomainError) as refused:
            flow.decide_unfavourable(db, a, request, request.version, "")
        assert refused.value.field == "reason"
        db.commit()
        flow.decide_unfavourable(db, a, request, request.version, "Programme non conforme.")
        db.commit()
        assert (request.phase, request.decision_comment) == (
            P.UNFAVOURABLE,
            "Programme non conforme.",
        )
        assert count(db, Accreditation) == 0
        title = f"{label} : décision défavorable"
        steps.append(("unfavourable", P.CNH, P.UNFAVOURABLE))
    assert request.decided_at is not None
    # the decision itself is mailed by accreditation_letters (with the letter or the
    # reason): the state machine's task comes with no second mail
    assert count(db, OutboxEmail) == mails_before
    assert open_tasks(db, request.id) == {
        "gestionnaire": title,
        "gestionnaire_sans_mail": title,
    }
    assert trail(db, request.id) == steps
    actors = [person.last_name if person else None for _e, person in flow.history(db, request.id)]
    assert actors[0] == "gestionnaire" and actors[-1] == "administrateur"
    returned = next(e for e, _p in flow.history(db, request.id) if e.to_state == P.RETURNED)
    assert returned.comment == comment


def test_a_request_returned_from_the_file_check_goes_back_to_it(db, w):
    request = prepare(db, w)
    flow.submit(db, w["gestionnaire"], request, request.version)
    flow.return_incomplete(db, w["instructeur"], request, request.version, "Il manque le Kbis.")
    db.commit()
    assert flow.step_of(request) == 1
    flow.submit(db, w["gestionnaire"], request, request.version)
    db.commit()
    assert request.phase == P.FILE_COMPLETE


# --- concurrency ----------------------------------------------------------------------------


def _at(db, w, phase):
    request = prepare(db, w)
    force(db, request, phase)
    return request


STALE = {
    "save_informations": (
        P.DRAFT,
        lambda db, w, r, v: flow.save_informations(db, w["gestionnaire"], r, v, "Mot"),
    ),
    "add_document": (
        P.DRAFT,
        lambda db, w, r, v: flow.add_document(db, w["gestionnaire"], r, v, "programme", upload()),
    ),
    "add_platform": (
        P.DRAFT,
        lambda db, w, r, v: flow.add_platform(db, w["gestionnaire"], r, v, PORT),
    ),
    "submit": (P.DRAFT, lambda db, w, r, v: flow.submit(db, w["gestionnaire"], r, v)),
    "abandon": (P.RETURNED, lambda db, w, r, v: flow.abandon(db, w["gestionnaire"], r, v)),
    "start_instruction": (
        P.FILE_COMPLETE,
        lambda db, w, r, v: flow.start_instruction(db, w["instructeur"], r, v),
    ),
    "complete_phase": (
        P.PHASE_1,
        lambda db, w, r, v: flow.complete_phase(db, w["instructeur"], r, v, P.PHASE_1),
    ),
    "return_incomplete": (
        P.PHASE_2,
        lambda db, w, r, v: flow.return_incomplete(db, w["instructeur"], r, v, "À revoir."),
    ),
    "decide_favourable": (
        P.CNH,
        lambda db, w, r, v: flow.decide_favourable(db, w["administrateur"], r, v, today()),
    ),
    "decide_unfavourable": (
        P.CNH,
        lambda db, w, r, v: flow.decide_unfavourable(db, w["administrateur"], r, v, "Non."),
    ),
}


@pytest.mark.parametrize("name", list(STALE))
def test_a_change_made_on_a_stale_version_is_refused_and_writes_nothing(db, w, name):
    phase, call = STALE[name]
    request = prepare(db, w, "SST", 2)  # programmes accepted, several of them
    force(db, request, phase)
    stale = request.version
    # the other person's change, made first
    db.exec(
        update(AccreditationRequest)
        .where(AccreditationRequest.id == request.id)
        .values(version=AccreditationRequest.version + 1)
    )
    db.commit()
    before = snapshot(db, request.id)
    with pytest.raises(ConflictError) as conflict:
        call(db, w, db.get(AccreditationRequest, request.id), stale)
    assert "Rechargez la page" in conflict.value.message
    db.commit()
    assert snapshot(db, request.id) == before


def test_two_instructors_completing_at_once_one_wins(db, w):
    request = _at(db, w, P.PHASE_1)
    seen = request.version
    flow.complete_phase(db, w["instructeur"], request, seen, P.PHASE_1)
    db.commit()
    before = snapshot(db, request.id)
    with pytest.raises(ConflictError):
        flow.complete_phase(db, w["instructeur_collegue"], request, seen, P.PHASE_1)
    db.commit()
    assert snapshot(db, request.id) == before
    assert request.phase == P.PHASE_2


def test_complete_with_the_wrong_phase_in_mind_is_refused(db, w):
    """A click meant for phase 1 never completes phase 2."""
    request = _at(db, w, P.PHASE_2)
    before = snapshot(db, request.id)
    with pytest.raises(DomainError):
        flow.complete_phase(db, w["instructeur"], request, request.version, P.PHASE_1)
    db.commit()
    assert snapshot(db, request.id) == before
    assert db.get(AccreditationRequest, request.id).phase == P.PHASE_2


# --- what may be requested -------------------------------------------------------------------


def test_requestable_levels_leave_out_what_is_held_requested_or_inrs_only(db, w):
    org = w.org
    factories.accreditation(db, org, scheme_code="SST", level=1)  # valid
    factories.accreditation(  # ended: may be asked for again
        db,
        org,
        scheme_code="ALM",
        level=1,
        start=today() - relativedelta(years=6),
        end=today() - timedelta(days=1),
    )
    factories.accreditation(  # ends today: still held
        db, org, scheme_code="ALM", level=2, end=today()
    )
    db.commit()
    g = w["gestionnaire"]
    requested = flow.new_request(db, g)
    flow.save_pedagogique(db, g, requested, requested.version, level_id(db, "PRAP-IBC", 1))
    refused = flow.new_request(db, g)
    flow.save_pedagogique(db, g, refused, refused.version, level_id(db, "PRAP-2S", 1))
    force(db, refused, P.UNFAVOURABLE)
    draft = flow.new_request(db, g)
    assert draft.kind == RequestKind.ADDITIONAL  # the entity holds an accreditation
    db.commit()

    labels = [choice.label for choice in flow.requestable_levels(db, org.id, draft)]
    assert "SST / 1" not in labels and "ALM / 2" not in labels  # held
    assert "PRAP-IBC / 1" not in labels  # being requested
    assert not any(label.endswith("/ 3") for label in labels)  # INRS only
    assert {"ALM / 1", "PRAP-2S / 1", "SST / 2", "CATEC / 1"} <= set(labels)
    technical = {c.label for c in flow.requestable_levels(db, org.id, draft) if c.technical}
    assert technical == {"CATEC / 1", "CATEC / 2", "ECHAF / 1", "ECHAF / 2"}
    # the request's own choice stays in its own list
    own = [c.label for c in flow.requestable_levels(db, org.id, requested)]
    assert "PRAP-IBC / 1" in own

    messages = {
        "SST-1": flow.check_scheme_level(db, org.id, level_id(db, "SST", 1), draft),
        "PRAP-IBC-1": flow.check_scheme_level(db, org.id, level_id(db, "PRAP-IBC", 1), draft),
        "SST-3": flow.check_scheme_level(db, org.id, level_id(db, "SST", 3), draft),
        "none": flow.check_scheme_level(db, org.id, None, draft),
        "ALM-1": flow.check_scheme_level(db, org.id, level_id(db, "ALM", 1), draft),
    }
    assert messages["SST-1"].startswith("Votre entité détient déjà une habilitation SST / 1")
    assert "Renouveler" in messages["SST-1"]
    assert messages["PRAP-IBC-1"] == "Une demande PRAP-IBC / 1 de votre entité est déjà en cours."
    assert messages["SST-3"] == "Ce dispositif et ce niveau ne peuvent pas être demandés."
    assert messages["none"] == "Choisissez le dispositif et le niveau demandés."
    assert messages["ALM-1"] is None

    # saving a refused choice writes nothing; an inactive dispositif is refused too
    before = snapshot(db, draft.id)
    with pytest.raises(DomainError) as refused_choice:
        flow.save_pedagogique(db, g, draft, draft.version, level_id(db, "PRAP-IBC", 1))
    assert refused_choice.value.field == "scheme_level_id"
    db.commit()
    assert snapshot(db, draft.id) == before
    echaf = db.exec(select(Scheme).where(Scheme.code == "ECHAF")).one()
    echaf.active = False
    db.add(echaf)
    db.commit()
    try:
        assert "ECHAF / 1" not in [c.label for c in flow.requestable_levels(db, org.id, draft)]
        assert (
            flow.check_scheme_level(db, org.id, level_id(db, "ECHAF", 1), draft)
            == "Ce dispositif et ce niveau ne peuvent pas être demandés."
        )
    finally:  # the catalogue is kept between tests: put the dispositif back
        echaf.active = True
        db.add(echaf)
        db.commit()


def test_new_request_is_the_gestionnaire_s_of_a_validated_entity(db, w):
    for actor in ("delegataire", "formateur", "instructeur", "administrateur"):
        with pytest.raises(DomainError):
            flow.new_request(db, w[actor])
    w.org.code = None
    db.add(w.org)
    db.commit()
    with pytest.raises(DomainError) as refused:
        flow.new_request(db, w["gestionnaire"])
    assert "validée par sa caisse" in refused.value.message
    db.commit()
    assert count(db, AccreditationRequest) == 0


# --- what "Soumettre" needs --------------------------------------------------------------------


def test_sst_level_1_needs_the_signed_letter_only(db, w):
    g = w["gestionnaire"]
    request = flow.new_request(db, g)
    flow.save_pedagogique(db, g, request, request.version, level_id(db, "SST", 1))
    kinds = {r.kind: r.required for r in flow.requirements_of(db, request.scheme_level_id)}
    assert kinds == {"engagement": True, "programme": False, "deroule": False}
    assert flow.missing(db, request) == [
        ("pedagogique", "Pédagogique : déposez « Lettre d'engagement signée ».")
    ]
    assert not flow.is_technical(db, request)


def test_sst_level_2_needs_programmes_and_deroules(db, w):
    g = w["gestionnaire"]
    request = flow.new_request(db, g)
    flow.save_pedagogique(db, g, request, request.version, level_id(db, "SST", 2))
    flow.add_document(db, g, request, request.version, "engagement", upload())
    assert flow.missing(db, request) == [
        ("pedagogique", "Pédagogique : déposez « Programmes de formation »."),
        ("pedagogique", "Pédagogique : déposez « Déroulés pédagogiques »."),
    ]
    # the submit names what is missing, and writes nothing
    db.commit()
    before = snapshot(db, request.id)
    with pytest.raises(DomainError) as refused:
        flow.submit(db, g, request, request.version)
    assert "Programmes de formation" in refused.value.message
    assert "Déroulés pédagogiques" in refused.value.message
    db.commit()
    assert snapshot(db, request.id) == before


def test_catec_needs_its_technical_documents_and_a_platform_or_the_mobile_one(db, w):
    g = w["gestionnaire"]
    request = flow.new_request(db, g)
    flow.save_pedagogique(db, g, request, request.version, level_id(db, "CATEC", 1))
    assert flow.is_technical(db, request)
    technique = [m for tab, m in flow.missing(db, request) if tab == "technique"]
    assert technique == [
        "Technique : déposez « Acquisition, utilisation et entretien du matériel ».",
        "Technique : déposez « Tableau récapitulatif du matériel ».",
        "Technique : déposez « Pièces du dossier technique ».",
        "Technique : déclarez au moins une plateforme fixe, ou cochez "
        "« Plateforme pédagogique mobile ».",
    ]
    for requirement in flow.requirements_of(db, request.scheme_level_id):
        if requirement.required:
            flow.add_document(db, g, request, request.version, requirement.kind, upload())
    assert [tab for tab, _m in flow.missing(db, request)] == ["technique"]
    flow.save_technique(db, g, request, request.version, True)
    assert flow.missing(db, request) == []
    flow.save_technique(db, g, request, request.version, False)
    assert flow.missing(db, request) != []
    # a platform's fields are each checked; a refused one writes nothing
    errors = flow.add_platform(
        db, g, request, request.version, flow.PlatformInput(" ", "x" * 251, "6710", "")
    )
    assert errors == {
        "name": "Indiquez le nom de la plateforme.",
        "address": "Pas plus de 250 caractères.",
        "postal_code": "Le code postal a 5 chiffres, par exemple 67000.",
        "city": "Indiquez la ville.",
    }
    assert flow.platforms_of_request(db, request.id) == []
    assert flow.add_platform(db, g, request, request.version, PORT) == {}
    assert flow.missing(db, request) == []
    assert flow.add_equipment(db, g, request, request.version, flow.EquipmentInput("", "0")) == {
        "label": "Indiquez le matériel.",
        "quantity": "La quantité est un nombre entier de 1 à 9999.",
    }
    assert flow.equipment_of_request(db, request.id) == []


def test_the_entity_s_signatory_is_needed(db, w):
    request = prepare(db, w)
    w.org.signatory_last_name = None
    db.add(w.org)
    db.commit()
    assert flow.missing(db, request) == [
        ("entite", "Entité : indiquez le signataire de la lettre d'engagement (Mon entité).")
    ]


# --- documents --------------------------------------------------------------------------------


def test_a_refused_upload_stores_nothing(db, w):
    g = w["gestionnaire"]
    request = prepare(db, w, "SST", 2)
    before = snapshot(db, request.id)
    for data, message in ((b"%!PS-Adobe not a pdf", NOT_A_PDF), (b"", "Ce fichier est vide.")):
        with pytest.raises(UploadRefused) as refused:
            flow.add_document(db, g, request, request.version, "programme", upload(data))
        assert refused.value.message == message
        assert refused.value.field == "fichier_programme"
        db.commit()
        assert snapshot(db, request.id) == before
    # a kind this dispositif does not ask for, and a complementary one with no title
    with pytest.raises(DomainError):
        flow.add_document(db, g, request, request.version, "dossier_technique", upload())
    db.commit()
    assert snapshot(db, request.id) == before


def test_a_single_document_is_replaced_and_several_are_kept(db, w):
    g = w["gestionnaire"]
    request = prepare(db, w, "SST", 2)
    first = [d.id for d, _f in flow.documents_of(db, request.id) if d.kind == "engagement"]
    new = flow.add_document(db, g, request, request.version, "engagement", upload(name="v2.pdf"))
    flow.add_document(db, g, request, request.version, "programme", upload(name="autre.pdf"))
    db.commit()
    documents = flow.documents_of(db, request.id)
    engagement = [(d.id, f.name) for d, f in documents if d.kind == "engagement"]
    assert engagement == [(new.id, "v2.pdf")] and first != [new.id]
    programmes = sorted(f.name for d, f in documents if d.kind == "programme")
    assert programmes == ["autre.pdf", "programme.pdf"]
    # removing one of them keeps the others
    flow.remove_document(db, g, request, request.version, new.id)
    db.commit()
    assert [d.kind for d, _f in flow.documents_of(db, request.id)].count("programme") == 2
    assert flow.document_of(db, request, new.id) is None


def test_a_complementary_document_needs_a_title(db, w):
    g = w["gestionnaire"]
    request = prepare(db, w, "CATEC", 1)
    before = snapshot(db, request.id)
    with pytest.raises(DomainError) as refused:
        flow.add_document(db, g, request, request.version, "complementaire", upload())
    assert refused.value.field == "label"
    db.commit()
    assert snapshot(db, request.id) == before
    document = flow.add_document(
        db, g, request, request.version, "complementaire", upload(), label=" Plan d'accès "
    )
    assert document.label == "Plan d'accès"


# --- renewal ----------------------------------------------------------------------------------


def test_the_renewal_window_opens_twelve_months_before_the_end(db, w):
    end = today() + timedelta(days=500)
    accreditation = factories.accreditation(db, w.org, end=end)
    db.commit()
    opens = end - relativedelta(months=12)
    assert flow.renewal_opens_on(accreditation) == opens
    day_before = flow.renewal_problem(db, accreditation, on=opens - timedelta(days=1))
    assert day_before == (f"Le renouvellement pourra être demandé à partir du {opens:%d/%m/%Y}.")
    assert flow.renewal_problem(db, accreditation, on=opens) is None
    assert flow.renewal_problem(db, accreditation, on=end) is None
    assert flow.renewal_problem(db, accreditation, on=end + timedelta(days=1)) == (
        "Cette habilitation est terminée : faites une nouvelle demande d'habilitation."
    )


def test_start_renewal_follows_the_window_of_today(db, w):
    g = w["gestionnaire"]
    too_early = factories.accreditation(
        db, w.org, end=today() + relativedelta(months=12) + timedelta(days=1)
    )
    on_time = factories.accreditation(
        db, w.org, scheme_code="SST", level=2, end=today() + relativedelta(months=12)
    )
    ended = factories.accreditation(
        db,
        w.org,
        scheme_code="ALM",
        level=1,
        start=today() - relativedelta(years=5),
        end=today() - timedelta(days=1),
    )
    db.commit()
    for accreditation in (too_early, ended):
        with pytest.raises(DomainError):
            flow.start_renewal(db, g, accreditation)
        db.commit()
    assert count(db, AccreditationRequest) == 0
    renewal = flow.start_renewal(db, g, on_time)
    db.commit()
    assert (renewal.kind, renewal.renewal_of_id, renewal.phase) == (
        RequestKind.RENEWAL,
        on_time.id,
        P.DRAFT,
    )
    # a renewal in progress: no second one
    assert flow.renewal_problem(db, on_time) == (
        "Un renouvellement de cette habilitation est déjà en cours."
    )
    with pytest.raises(DomainError):
        flow.start_renewal(db, g, on_time)
    db.commit()
    assert count(db, AccreditationRequest) == 1
    # only the entity's gestionnaires renew
    for actor in ("gestionnaire_autre_entite", "delegataire", "instructeur"):
        with pytest.raises(DomainError):
            flow.start_renewal(db, w[actor], on_time)


def _catec_accreditation(db, w, end):
    """A CATEC accreditation got through a request: platforms, equipment, documents."""
    request = prepare(db, w, "CATEC", 1)
    g = w["gestionnaire"]
    flow.add_document(
        db, g, request, request.version, "complementaire", upload(name="plan.pdf"), "Plan"
    )
    flow.save_technique(db, g, request, request.version, True)
    db.commit()
    force(db, request, P.CNH)
    [platform] = flow.platforms_of_request(db, request.id)
    accreditation = flow.decide_favourable(
        db,
        w["administrateur"],
        request,
        request.version,
        today(),
        {platform.id: today() - timedelta(days=3)},
    )
    accreditation.end_date = end
    db.add(accreditation)
    db.commit()
    return request, accreditation


def test_a_favourable_decision_copies_platforms_with_their_approval_dates(db, w):
    request = prepare(db, w, "CATEC", 1)
    force(db, request, P.CNH)
    [platform] = flow.platforms_of_request(db, request.id)
    a = w["administrateur"]
    before = snapshot(db, request.id)
    for dates, message in (
        ({}, "Indiquez la date d'approbation CNH de la plateforme « Plateforme du port »."),
        (
            {platform.id: today() + timedelta(days=1)},
            "La date d'approbation de « Plateforme du port » ne peut pas être dans le futur.",
        ),
    ):
        with pytest.raises(DomainError) as refused:
            flow.decide_favourable(db, a, request, request.version, today(), dates)
        assert refused.value.message == message
        assert refused.value.field == f"plateforme_{platform.id}"
        db.commit()
        assert snapshot(db, request.id) == before
    approved = today() - timedelta(days=2)
    accreditation = flow.decide_favourable(
        db, a, request, request.version, today(), {platform.id: approved}
    )
    db.commit()
    copies = db.exec(select(Platform).where(Platform.accreditation_id == accreditation.id)).all()
    assert [(p.name, p.postal_code, p.cnh_approved_on, p.request_id) for p in copies] == [
        ("Plateforme du port", "67100", approved, None)
    ]
    equipment = db.exec(
        select(Equipment).where(Equipment.accreditation_id == accreditation.id)
    ).all()
    assert [(e.label, e.quantity) for e in equipment] == [("Détecteur 4 gaz", 6)]
    assert accreditation.number.endswith("/CATEC-1/O/00")


def test_start_renewal_copies_the_accreditation_but_not_the_signed_letter(db, w):
    request, accreditation = _catec_accreditation(db, w, today() + timedelta(days=200))
    renewal = flow.start_renewal(db, w["gestionnaire"], accreditation)
    db.commit()
    assert renewal.scheme_level_id == accreditation.scheme_level_id
    assert renewal.mobile_platform is True
    assert [
        (p.name, p.address, p.postal_code, p.city)
        for p in flow.platforms_of_request(db, renewal.id)
    ] == [(PORT.name, PORT.address, PORT.postal_code, PORT.city)]
    assert [(e.label, e.quantity) for e in flow.equipment_of_request(db, renewal.id)] == [
        ("Détecteur 4 gaz", 6)
    ]
    old = {(d.kind, d.label, d.file_id) for d, _f in flow.documents_of(db, request.id)}
    new = {(d.kind, d.label, d.file_id) for d, _f in flow.documents_of(db, renewal.id)}
    assert new == {d for d in old if d[0] != "engagement"}
    assert {d[0] for d in new} == {
        "programme",
        "deroule",
        "materiel",
        "recap_materiel",
        "dossier_technique",
        "complementaire",
    }
    assert flow.missing(db, renewal) == [
        ("pedagogique", "Pédagogique : déposez « Lettre d'engagement signée ».")
    ]
    # the dispositif of a renewal is the accreditation's: a change is ignored
    flow.save_pedagogique(db, w["gestionnaire"], renewal, renewal.version, level_id(db, "SST", 2))
    assert renewal.scheme_level_id == accreditation.scheme_level_id
    created = trail(db, renewal.id)
    assert created == [("created", None, P.DRAFT)]


# --- the decision: period and number -------------------------------------------------------


def test_period_of_an_initial_request_follows_the_setting(db, w, app):
    request = _at(db, w, P.CNH)
    start = today() - timedelta(days=10)
    assert flow.period_for(db, request, start) == (start, start + relativedelta(years=5))
    app.config["ACCREDITATION_YEARS"] = 3
    assert flow.period_for(db, request, start) == (start, start + relativedelta(years=3))


def test_a_renewal_starts_the_day_after_the_current_one_ends(db, w):
    end = today() + timedelta(days=90)
    current = factories.accreditation(db, w.org, end=end)
    current.sequence = 0
    db.add(current)
    db.commit()
    g = w["gestionnaire"]
    renewal = flow.start_renewal(db, g, current)
    flow.add_document(db, g, renewal, renewal.version, "engagement", upload())
    flow.submit(db, g, renewal, renewal.version)
    db.commit()
    # a pending renewal does not extend the current accreditation
    assert db.get(Accreditation, current.id).end_date == end
    force(db, renewal, P.CNH)
    assert flow.period_for(db, renewal, today()) == (
        end + timedelta(days=1),
        end + timedelta(days=1) + relativedelta(years=5),
    )
    # a CNH date after the end (the accreditation lapsed meanwhile) is kept
    later = end + timedelta(days=30)
    assert flow.period_for(db, renewal, later)[0] == later

    new = flow.decide_favourable(db, w["administrateur"], renewal, renewal.version, today())
    db.commit()
    assert (new.start_date, new.sequence) == (end + timedelta(days=1), 1)
    assert new.number == f"H{w.org.code}/{today().year}/SST-1/O/01"
    assert db.get(Accreditation, current.id).end_date == end
    assert flow.renewal_problem(db, current) == "Cette habilitation a déjà été renouvelée."


def test_a_number_taken_meanwhile_moves_to_the_next_sequence(db, w):
    """Two decisions at once for the same entity and dispositif-level: the unique
    (entity, dispositif-level, sequence) sends the later one to the next sequence."""
    current = factories.accreditation(db, w.org, end=today() + timedelta(days=90))
    # sequence 1 taken by another decision, committed in between
    db.add(
        Accreditation(
            number=f"H{w.org.code}/{today().year}/SST-1/O/01",
            organization_id=w.org.id,
            scheme_level_id=current.scheme_level_id,
            sequence=1,
            start_date=today() - relativedelta(years=10),
            end_date=today() - relativedelta(years=5),
        )
    )
    db.commit()
    g = w["gestionnaire"]
    renewal = flow.start_renewal(db, g, current)
    flow.add_document(db, g, renewal, renewal.version, "engagement", upload())
    db.commit()
    force(db, renewal, P.CNH)
    new = flow.decide_favourable(db, w["administrateur"], renewal, renewal.version, today())
    db.commit()
    assert new.sequence == 2 and new.number.endswith("/SST-1/O/02")
    assert count(db, Accreditation, Accreditation.request_id == renewal.id) == 1


def test_a_new_request_after_an_ended_accreditation_takes_the_next_sequence(db, w):
    factories.accreditation(
        db,
        w.org,
        scheme_code="SST",
        level=2,
        start=today() - relativedelta(years=6),
        end=today() - timedelta(days=1),
    )
    db.commit()
    request = _at(db, w, P.CNH)  # SST 1: the entity's first
    first = flow.decide_favourable(db, w["administrateur"], request, request.version, today())
    db.commit()
    assert first.sequence == 0 and first.number.endswith("/SST-1/O/00")
    again = prepare(db, w, "SST", 2)
    force(db, again, P.CNH)
    second = flow.decide_favourable(db, w["administrateur"], again, again.version, today())
    db.commit()
    assert second.number.endswith("/SST-2/O/01")


def test_the_decision_s_start_date(db, w):
    request = _at(db, w, P.CNH)
    submitted = today() - timedelta(days=20)
    db.exec(
        update(AccreditationRequest)
        .where(AccreditationRequest.id == request.id)
        .values(submitted_at=utcnow() - timedelta(days=20))
    )
    db.commit()
    db.refresh(request)
    assert flow.check_decision_start(request, None) == (
        "Indiquez la date de début de l'habilitation (date de la décision CNH)."
    )
    assert flow.check_decision_start(request, submitted - timedelta(days=1)) == (
        f"La date de début ne peut pas précéder la demande (soumise le {submitted:%d/%m/%Y})."
    )
    assert flow.check_decision_start(request, submitted) is None
    assert flow.check_decision_start(request, today() + relativedelta(years=1)) is None
    assert flow.check_decision_start(
        request, today() + relativedelta(years=1) + timedelta(days=1)
    ) == ("La date de début doit être dans l'année qui vient.")
    before = snapshot(db, request.id)
    for start in (None, submitted - timedelta(days=1)):
        with pytest.raises(DomainError) as refused:
            flow.decide_favourable(db, w["administrateur"], request, request.version, start)
        assert refused.value.field == "start_date"
        db.commit()
        assert snapshot(db, request.id) == before


def test_the_start_date_is_compared_with_the_paris_day_of_submission(db, w):
    """Submitted at 23:30 UTC on the 1st is the 2nd in Paris: a start on the 1st precedes
    the request."""
    request = _at(db, w, P.CNH)
    moment = utcnow().replace(hour=23, minute=30) - timedelta(days=30)
    db.exec(
        update(AccreditationRequest)
        .where(AccreditationRequest.id == request.id)
        .values(submitted_at=moment)
    )
    db.commit()
    db.refresh(request)
    utc_day = moment.date()
    assert flow.check_decision_start(request, utc_day) is not None
    assert flow.check_decision_start(request, utc_day + timedelta(days=1)) is None


def test_abandon_closes_the_request_s_tasks(db, w):
    request = prepare(db, w)
    flow.submit(db, w["gestionnaire"], request, request.version)
    flow.return_incomplete(db, w["instructeur"], request, request.version, "Lettre illisible.")
    db.commit()
    assert open_tasks(db, request.id)
    flow.abandon(db, w["gestionnaire"], request, request.version)
    db.commit()
    assert open_tasks(db, request.id) == {}
    assert trail(db, request.id)[-1] == ("abandoned", P.RETURNED, P.ABANDONED)
    # the level may be asked for again
    assert "SST / 1" in [c.label for c in flow.requestable_levels(db, w.org.id)]


def test_a_change_of_dispositif_drops_what_the_new_one_does_not_ask_for(db, w):
    """CATEC chosen, its Technique tab filled, then SST 2: its platforms would otherwise
    wait for a CNH approval date and follow an SST accreditation to its sessions."""
    g = w["gestionnaire"]
    request = prepare(db, w, "CATEC", 1)
    flow.save_technique(db, g, request, request.version, True)
    flow.save_pedagogique(db, g, request, request.version, level_id(db, "CATEC", 2))
    db.commit()
    kept = {d.kind for d, _f in flow.documents_of(db, request.id)}
    assert "materiel" in kept and flow.platforms_of_request(db, request.id)  # still technical
    # the signed letter named CATEC 1: the new dispositif needs its own
    assert "engagement" not in kept
    flow.save_pedagogique(db, g, request, request.version, level_id(db, "SST", 2))
    db.commit()
    assert {d.kind for d, _f in flow.documents_of(db, request.id)} == {"programme", "deroule"}
    assert flow.platforms_of_request(db, request.id) == []
    assert flow.equipment_of_request(db, request.id) == []
    assert request.mobile_platform is False
    assert flow.missing(db, request) == [
        ("pedagogique", "Pédagogique : déposez « Lettre d'engagement signée ».")
    ]
    force(db, request, P.CNH)
    accreditation = flow.decide_favourable(
        db, w["administrateur"], request, request.version, today()
    )
    db.commit()
    assert count(db, Platform, Platform.accreditation_id == accreditation.id) == 0
    assert accreditation.mobile_platform is False


def test_a_line_break_sent_by_a_browser_counts_as_one_character():
    """A browser sends a textarea's line breaks as CR LF: a comment of 2000 characters as
    typed (with its line breaks) is taken, kept with plain line breaks."""
    typed = "Programme :\n" + "x" * 1980 + "\nDéroulé"
    assert len(typed) == 2000
    sent = typed.replace("\n", "\r\n")
    assert len(sent) == 2002
    assert flow.check_comment(sent) is None
    assert flow._comment(sent, required=True) == typed
    assert flow.check_comment("x" * 2001) == "Le commentaire ne doit pas dépasser 2000 caractères."


def test_a_request_sent_back_keeps_its_dispositif(db, w):
    """Sent back from phase 2, the request cannot change dispositif: resubmitted, it would
    land in phase 2 with a dispositif the caisse never instructed in phase 1."""
    g = w["gestionnaire"]
    request = prepare(db, w, "SST", 2)
    sst2 = request.scheme_level_id
    force(db, request, P.RETURNED)
    request.returned_from = P.PHASE_2
    db.add(request)
    db.commit()
    version = request.version
    flow.save_pedagogique(db, g, request, request.version, level_id(db, "SST", 1))
    db.commit()
    assert (request.scheme_level_id, request.version) == (sst2, version)
