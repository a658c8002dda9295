"""The caisse's instruction and the CNH's decision of an accreditation request, through
HTTP (app/blueprints/accreditation_requests/decisions.py): each transition allowed to its
role and refused to every other (and to another caisse: 404), out of order or stale
(nothing written), the favourable decision giving the numbered accreditation, its period,
platforms, letter e-mailed to every gestionnaire, and a session declarable at once; the
queue and the dashboard leading to the requests of each phase."""

import io
import re
import threading
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from pypdf import PdfReader
from sqlmodel import func, select

from app.clock import to_paris, today, utcnow
from app.domain import accreditation_flow as flow
from app.domain.access import ActiveRole
from app.domain.cert_session_rules import declarable_accreditations, platforms_of
from app.domain.storage import get_storage
from app.models import (
    Accreditation,
    AccreditationRequest,
    AuditEvent,
    DocumentRequirement,
    OutboxEmail,
    Platform,
    RequestDocument,
    StoredFile,
)
from app.models.accreditations import RequestKind, RequestPhase
from app.models.organizations import OrganizationKind
from app.models.people import Role
from jobs.mail import deliver_outbox
from seeds.reference import load_reference
from tests import factories
from tests.conftest import AuthActions, csrf_token, is_postgres

P = RequestPhase
NOT_NOW = "Cette action n'est pas possible sur une demande « {} »."


class World:
    """An entity of Carsat Alsace-Moselle with two gestionnaires and one who left; two
    instructors of its caisse and one of the Cramif; an administrator."""

    def __init__(self, app, db):
        self.app, self.db = app, db
        if db.exec(select(DocumentRequirement.id)).first() is None:
            load_reference(db)  # the catalogue's document rows (cleaned after each test)
        self.org = factories.organization(
            db, name="MAIRIE DE VANVES", kind=OrganizationKind.AUTHORITY
        )
        self.org.signatory_first_name, self.org.signatory_last_name = "Pascal", "IT"
        self.org.signatory_function = "Maire"
        self.org.siret = "21920075500011"
        db.add(self.org)
        alsace, cramif = factories.fund(db), factories.fund(db, "CRAMIF")
        self.people, self.grants = {}, {}
        for name, first, role, where in (
            ("alice", "Alice", Role.GESTIONNAIRE, {"organization": self.org}),
            ("stefan", "Ștefan", Role.GESTIONNAIRE, {"organization": self.org}),
            ("parti", "Paul", Role.GESTIONNAIRE, {"organization": self.org}),
            ("instructeur", "Inès", Role.INSTRUCTEUR, {"fund_": alsace}),
            ("collegue", "Claude", Role.INSTRUCTEUR, {"fund_": alsace}),
            ("cramif", "Carla", Role.INSTRUCTEUR, {"fund_": cramif}),
            ("admin", "Adèle", Role.ADMINISTRATEUR, {}),
            ("admin2", "Aurore", Role.ADMINISTRATEUR, {}),
        ):
            person = factories.person(
                db, first_name=first, last_name=name.upper(), email=f"{name}@exemple.fr"
            )
            self.people[name] = person
            self.grants[name] = factories.grant(db, person, role, **where)
        self.grants["parti"].active = False
        db.add(self.grants["parti"])
        db.commit()

    def client(self, name):
        client = self.app.test_client()
        actions = AuthActions(client)
        assert actions.login(self.people[name].email).status_code == 302
        assert actions.switch(self.grants[name].id).status_code == 302
        return client

    def role(self, name) -> ActiveRole:
        grant = self.grants[name]
        return ActiveRole(
            grant_id=grant.id,
            person_id=grant.person_id,
            role=Role(grant.role),
            organization_id=grant.organization_id,
            fund_id=grant.fund_id,
        )

    def request(self, phase, *, scheme="SST", level=1, platforms=0, mobile=False, **fields):
        """A request in `phase`, submitted 40 days ago, with the documents it asks for."""
        db = self.db
        req = AccreditationRequest(
            organization_id=self.org.id,
            fund_id=self.org.fund_id,
            scheme_level_id=factories.scheme_level(db, scheme, level).id,
            kind=fields.pop("kind", RequestKind.INITIAL),
            phase=phase,
            created_by_id=self.people["alice"].id,
            submitted_at=fields.pop("submitted_at", utcnow() - timedelta(days=40)),
            mobile_platform=mobile,
            **fields,
        )
        db.add(req)
        db.flush()
        stored = get_storage().save(
            db, name="piece.pdf", content_type="application/pdf", data=b"%PDF-1.4"
        )
        for requirement in flow.requirements_of(db, req.scheme_level_id):
            db.add(
                RequestDocument(
                    request_id=req.id,
                    kind=requirement.kind,
                    label="Pièce" if requirement.kind == "complementaire" else None,
                    file_id=stored.id,
                    uploaded_by_id=self.people["alice"].id,
                )
            )
        for n in range(platforms):
            db.add(
                Platform(
                    request_id=req.id,
                    name=f"Plateforme n° {n + 1} Ağrı",
                    address=f"{n + 1} rue des Puits",
                    postal_code="92170",
                    city="VANVES",
                )
            )
        db.commit()
        return req

    def fresh(self, req) -> AccreditationRequest:
        self.db.expire_all()
        return self.db.get(AccreditationRequest, req.id)

    def written(self) -> tuple:
        """What a refused action must leave as it was."""
        db = self.db
        db.expire_all()

        def count(model):
            return db.exec(select(func.count()).select_from(model)).one()

        return tuple(count(m) for m in (AuditEvent, OutboxEmail, Accreditation, StoredFile))


@pytest.fixture
def w(app, db):
    return World(app, db)


def page_of(req, tab="informations") -> str:
    return f"/habilitations/demandes/{req.id}/{tab}"


def act(client, req, action, version=None, **data):
    """POST an action of the request's page, as its form would (CSRF, version)."""
    token = csrf_token(client, "/")
    form = {"csrf_token": token, "version": str(version if version is not None else req.version)}
    return client.post(f"/habilitations/demandes/{req.id}/{action}", data={**form, **data})


def field_error(html: str, field_id: str) -> str:
    """The message shown next to a field, checked to be tied to it for screen readers."""
    tag = re.search(rf'<(?:input|textarea)[^>]*id="{field_id}"[^>]*>', html)
    assert tag, f"pas de champ {field_id}"
    assert 'aria-invalid="true"' in tag.group(0)
    assert f"{field_id}-erreur" in tag.group(0)
    message = re.search(rf'<p class="error" id="{field_id}-erreur" role="alert">([^<]*)</p>', html)
    assert message, f"pas de message pour {field_id}"
    return message.group(1).replace("&#39;", "'")


def text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&amp;", "&")


# --- who may do what, in which phase ---------------------------------------------------------

ALLOWED = [
    ("instructeur", P.FILE_COMPLETE, "instruction/commencer", {}, P.PHASE_1),
    ("collegue", P.PHASE_1, "instruction/complet", {"phase": P.PHASE_1}, P.PHASE_2),
    ("instructeur", P.PHASE_2, "instruction/complet", {"phase": P.PHASE_2}, P.CNH),
    ("instructeur", P.FILE_COMPLETE, "instruction/incomplet", {"comment": "URSSAF"}, P.RETURNED),
    ("instructeur", P.PHASE_1, "instruction/incomplet", {"comment": "Programme"}, P.RETURNED),
    ("instructeur", P.PHASE_2, "instruction/incomplet", {"comment": "Déroulé"}, P.RETURNED),
    (
        "admin",
        P.CNH,
        "decision/defavorable",
        {"reason": "Programme hors référentiel"},
        P.UNFAVOURABLE,
    ),
]


@pytest.mark.parametrize(("who", "phase", "action", "data", "after"), ALLOWED)
def test_each_step_is_taken_by_its_role(w, who, phase, action, data, after):
    req = w.request(phase)
    version = req.version
    answer = act(w.client(who), req, action, **data)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert answer.headers["Location"] == page_of(req)
    done = w.fresh(req)
    assert done.phase == after
    assert done.version == version + 1
    if after == P.RETURNED:
        assert done.returned_from == phase
        assert done.return_comment == data["comment"]
    event = w.db.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.actor_id, event.from_state, event.to_state) == (
        w.people[who].id,
        phase,
        after,
    )


# (who, phase, action, data, status, message): nothing is written for any of them
REFUSED = [
    # not their role's step: the permission says no before anything is read
    ("alice", P.FILE_COMPLETE, "instruction/commencer", {}, 403, None),
    ("admin", P.PHASE_1, "instruction/complet", {"phase": P.PHASE_1}, 403, None),
    ("admin", P.PHASE_1, "instruction/incomplet", {"comment": "x"}, 403, None),
    ("instructeur", P.CNH, "decision/favorable", {"start_date": "x"}, 403, None),
    ("instructeur", P.CNH, "decision/defavorable", {"reason": "x"}, 403, None),
    ("alice", P.CNH, "decision/defavorable", {"reason": "x"}, 403, None),
    # another caisse's instructor finds no such request
    ("cramif", P.FILE_COMPLETE, "instruction/commencer", {}, 404, None),
    ("cramif", P.PHASE_1, "instruction/incomplet", {"comment": "x"}, 404, None),
    # a draft is not the caisse's business yet
    ("instructeur", P.DRAFT, "instruction/commencer", {}, 404, None),
    # out of order
    ("instructeur", P.PHASE_1, "instruction/commencer", {}, 422, P.PHASE_1),
    (
        "instructeur",
        P.FILE_COMPLETE,
        "instruction/complet",
        {"phase": P.FILE_COMPLETE},
        422,
        P.FILE_COMPLETE,
    ),
    ("instructeur", P.CNH, "instruction/incomplet", {"comment": "x"}, 422, P.CNH),
    ("instructeur", P.RETURNED, "instruction/commencer", {}, 422, P.RETURNED),
    ("admin", P.PHASE_2, "decision/defavorable", {"reason": "x"}, 422, P.PHASE_2),
    ("admin", P.FAVOURABLE, "decision/defavorable", {"reason": "x"}, 422, P.FAVOURABLE),
    (
        "admin",
        P.UNFAVOURABLE,
        "decision/favorable",
        {"start_date": "01/01/2026"},
        422,
        P.UNFAVOURABLE,
    ),
]


@pytest.mark.parametrize(("who", "phase", "action", "data", "status", "shown"), REFUSED)
def test_every_other_role_phase_and_caisse_is_refused(w, who, phase, action, data, status, shown):
    req = w.request(
        phase,
        returned_from=P.PHASE_1 if phase == P.RETURNED else None,
        **({"submitted_at": None} if phase == P.DRAFT else {}),
    )
    version = req.version
    before = w.written()
    answer = act(w.client(who), req, action, version=version, **data)
    assert answer.status_code == status
    if shown:
        from app.models.accreditations import REQUEST_PHASE_LABELS

        assert NOT_NOW.format(REQUEST_PHASE_LABELS[shown]) in text(answer)
    after = w.fresh(req)
    assert (after.phase, after.version) == (phase, version)
    assert w.written() == before


def test_each_role_sees_only_the_buttons_it_may_use(w):
    waiting = w.request(P.FILE_COMPLETE)
    at_cnh = w.request(P.CNH, scheme="PRAP-IBC")
    instructor, admin, alice = w.client("instructeur"), w.client("admin"), w.client("alice")

    page = text(instructor.get(page_of(waiting)))
    assert "Commencer l'instruction" in page and "Incomplet : renvoyer à l'entité" in page
    assert "Enregistrer la décision favorable" not in page
    page = text(instructor.get(page_of(at_cnh)))
    assert "Instruction de la caisse" not in page and "Décision de la CNH" not in page

    page = text(admin.get(page_of(at_cnh)))
    assert "Enregistrer la décision favorable" in page
    assert "Enregistrer la décision défavorable" in page
    assert "Commencer l'instruction" not in page
    years = w.app.config["ACCREDITATION_YEARS"]
    end = today() + relativedelta(years=years)
    assert (
        f"L'habilitation dure {years} ans à partir de sa date de début : décidée aujourd'hui, "
        f"elle irait du {today():%d/%m/%Y} au {end:%d/%m/%Y}." in page
    )
    assert "Commencer l'instruction" not in text(admin.get(page_of(waiting)))

    for req in (waiting, at_cnh):
        page = text(alice.get(page_of(req)))
        assert "Commencer l'instruction" not in page and "décision favorable" not in page


def test_phase_buttons_name_the_phase(w):
    instructor = w.client("instructeur")
    page = text(instructor.get(page_of(w.request(P.PHASE_1))))
    assert "Phase 1 complète : passer en phase 2" in page
    assert 'name="phase" value="instruction_phase_1"' in page
    page = text(instructor.get(page_of(w.request(P.PHASE_2, scheme="ALM"))))
    assert "Phase 2 complète : transmettre à la CNH" in page


# --- incomplete, resubmitted ---------------------------------------------------------------------


def test_incomplete_goes_back_to_the_entity_which_resubmits_to_the_same_phase(w):
    req = w.request(P.PHASE_2)
    instructor = w.client("instructeur")

    # no comment: said next to the field, nothing written
    before = w.written()
    refused = act(instructor, req, "instruction/incomplet", comment="   ")
    assert refused.status_code == 422
    assert field_error(text(refused), "instruction-commentaire") == (
        "Expliquez dans le commentaire ce qu'il faut compléter ou corriger."
    )
    assert w.fresh(req).phase == P.PHASE_2 and w.written() == before

    comment = "Le déroulé pédagogique de la journée 2 manque."
    assert act(instructor, req, "instruction/incomplet", comment=comment).status_code == 302
    req = w.fresh(req)
    assert (req.phase, req.returned_from, req.return_comment) == (P.RETURNED, P.PHASE_2, comment)

    alice = w.client("alice")
    page = text(alice.get(page_of(req)))
    assert comment in page
    listed = text(instructor.get("/instruction/demandes?etat=renvoyee&type=habilitation"))
    assert f'href="{page_of(req)}"' in listed and "À compléter par l'entité" in listed

    answer = act(alice, req, "soumettre")
    assert answer.status_code == 302, text(answer)[:3000]
    req = w.fresh(req)
    assert req.phase == P.PHASE_2, "back to the phase it left, not to the start"
    page = text(instructor.get(page_of(req)))
    assert "Phase 2 complète : transmettre à la CNH" in page
    assert act(instructor, req, "instruction/complet", phase=P.PHASE_2).status_code == 302
    assert w.fresh(req).phase == P.CNH


# --- conflicts -------------------------------------------------------------------------------------


def test_a_double_click_never_completes_phase_2(w):
    req = w.request(P.PHASE_1)
    read = req.version
    instructor = w.client("instructeur")
    click = {"version": read, "phase": P.PHASE_1}
    assert act(instructor, req, "instruction/complet", **click).status_code == 302
    before = w.written()
    # the same form once more: its version is the old one
    again = act(instructor, req, "instruction/complet", **click)
    assert again.status_code == 409
    assert flow.CONFLICT in text(again)
    # even naming the new version, a click meant for phase 1 does not complete phase 2
    later = act(instructor, req, "instruction/complet", version=read + 1, phase=P.PHASE_1)
    assert later.status_code == 409
    assert w.fresh(req).phase == P.PHASE_2 and w.written() == before


def test_two_instructors_at_once_one_wins_the_other_is_told(w):
    req = w.request(P.FILE_COMPLETE)
    first, second = w.client("instructeur"), w.client("collegue")
    # both read the same version; the second acts after the first without reloading
    read = req.version
    assert act(first, req, "instruction/commencer", version=read).status_code == 302
    before = w.written()
    late = act(second, req, "instruction/incomplet", version=read, comment="Pièce illisible")
    assert late.status_code == 409
    page = text(late)
    assert flow.CONFLICT in page
    assert "Instruction en cours phase 1" in page, "the request as it is now"
    done = w.fresh(req)
    assert (done.phase, done.return_comment) == (P.PHASE_1, None)
    assert w.written() == before


def test_a_decision_without_a_version_is_refused(w):
    req = w.request(P.CNH)
    admin = w.client("admin")
    answer = admin.post(
        f"/habilitations/demandes/{req.id}/decision/defavorable",
        data={"csrf_token": csrf_token(admin, "/"), "reason": "x"},
    )
    assert answer.status_code == 400
    assert w.fresh(req).phase == P.CNH


@pytest.mark.skipif(not is_postgres(), reason="SQLite runs one write at a time")
def test_two_instructors_at_the_same_instant_on_postgresql(w):
    req = w.request(P.FILE_COMPLETE)
    read = req.version
    clients = [w.client("instructeur"), w.client("collegue")]
    tokens = [csrf_token(c, "/") for c in clients]
    actions = [("instruction/commencer", {}), ("instruction/incomplet", {"comment": "Illisible"})]
    barrier = threading.Barrier(2)
    answers = {}

    def run(i):
        action, data = actions[i]
        barrier.wait()
        answers[i] = clients[i].post(
            f"/habilitations/demandes/{req.id}/{action}",
            data={"csrf_token": tokens[i], "version": str(read), **data},
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers.values())
    assert statuses == [302, 409]
    loser = next(a for a in answers.values() if a.status_code == 409)
    assert flow.CONFLICT in text(loser)
    done = w.fresh(req)
    assert done.version == read + 1
    assert done.phase in (P.PHASE_1, P.RETURNED)


# --- the CNH's favourable decision ------------------------------------------------------------------


def test_a_favourable_decision_numbers_the_accreditation_and_mails_its_letter(w, smtp_server):
    req = w.request(P.CNH, scheme="CATEC", level=1, platforms=2)
    platforms = flow.platforms_of_request(w.db, req.id)
    admin = w.client("admin")
    start = today() - timedelta(days=10)
    approved = [today() - timedelta(days=20), today() - timedelta(days=12)]
    page = text(admin.get(page_of(req)))
    for platform in platforms:
        assert f'id="decision-plateforme-{platform.id}"' in page
        assert f"Date d'approbation CNH de « {platform.name} »" in page

    answer = act(
        admin,
        req,
        "decision/favorable",
        start_date=f"{start:%d/%m/%Y}",
        **{
            f"plateforme_{p.id}": f"{day:%d/%m/%Y}"
            for p, day in zip(platforms, approved, strict=True)
        },
    )
    assert answer.status_code == 302, text(answer)[:3000]
    acc = w.db.exec(select(Accreditation).where(Accreditation.request_id == req.id)).one()
    assert answer.headers["Location"] == f"/habilitations/{acc.id}/general"
    assert w.fresh(req).phase == P.FAVOURABLE
    landed = admin.get(answer.headers["Location"])
    assert landed.status_code == 200 and acc.number in text(landed)

    # REFERENCE §3: H{code}/{year of decision}/{SCHEME}-{level}/{type letter}/{sequence}
    assert acc.number == f"H{w.org.code}/{today().year}/CATEC-1/C/00"
    assert re.fullmatch(r"H\d{5}/\d{4}/[A-Z0-9-]+-\d/[OECA]/\d{2}", acc.number)
    years = w.app.config["ACCREDITATION_YEARS"]
    assert (acc.start_date, acc.end_date) == (start, start + relativedelta(years=years))
    copied = w.db.exec(
        select(Platform).where(Platform.accreditation_id == acc.id).order_by(Platform.id)
    ).all()
    assert [(p.name, p.address, p.cnh_approved_on) for p in copied] == [
        (p.name, p.address, day) for p, day in zip(platforms, approved, strict=True)
    ]

    # the decision letter, stored with the accreditation
    stored = w.db.get(StoredFile, acc.decision_letter_file_id)
    assert stored.name == f"Decision_CNH_H{w.org.code}-{today().year}-CATEC-1-C-00.pdf"
    letter = get_storage().read(w.db, stored.id)
    letter_text = " ".join(PdfReader(io.BytesIO(letter)).pages[0].extract_text().split())
    assert f"Numéro d'habilitation {acc.number}" in letter_text
    assert f"du {start:%d/%m/%Y} au {acc.end_date:%d/%m/%Y}" in letter_text
    assert f"Plateforme n° 1 Ağrı 1 rue des Puits 92170 VANVES {approved[0]:%d/%m/%Y}" in (
        letter_text
    )

    # the entity declares a session for it the same minute, at an approved platform
    alice_role = w.role("alice")
    with w.app.test_request_context():
        choices = declarable_accreditations(w.db, alice_role)
    assert [(c.accreditation_id, c.label, c.needs_platform) for c in choices] == [
        (acc.id, "CATEC / 1", True)
    ]
    assert [p.name for p in platforms_of(w.db, acc.id)] == [p.name for p in platforms]
    new_session = text(w.client("alice").get("/sessions/nouvelle"))
    assert f'<option value="{acc.id}">CATEC / 1' in new_session

    # the letter reaches every active gestionnaire, attached
    w.app.config["SMTP_PORT"] = smtp_server.port
    with w.app.app_context():
        assert deliver_outbox()["failed"] == 0
    decisions = [m for m in smtp_server.messages if "accordée" in m["Subject"]]
    decisions = [m for m in decisions if list(m.iter_attachments())]
    assert sorted(m["To"] for m in decisions) == ["alice@exemple.fr", "stefan@exemple.fr"]
    for message in decisions:
        assert message["Subject"] == f"Forprev : habilitation {acc.number} accordée"
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == stored.name
        assert attachment.get_content() == letter
    assert "parti@exemple.fr" not in {m["To"] for m in smtp_server.messages}


def test_a_renewal_follows_the_accreditation_it_renews(w):
    old = factories.accreditation(
        w.db,
        w.org,
        scheme_code="SST",
        level=1,
        start=today() - relativedelta(years=5) + timedelta(days=90),
        end=today() + timedelta(days=90),
    )
    old.number = f"H{w.org.code}/2021/SST-1/C/00"
    w.db.add(old)
    w.db.commit()
    req = w.request(P.CNH, kind=RequestKind.RENEWAL, renewal_of_id=old.id)
    admin = w.client("admin")
    page = text(admin.get(page_of(req)))
    follows = old.end_date + timedelta(days=1)
    assert (
        f"Renouvellement de l'habilitation {old.number}, valable jusqu'au "
        f"{old.end_date:%d/%m/%Y} : la nouvelle période lui fait suite. Elle commence le "
        f"{follows:%d/%m/%Y}" in page
    )
    answer = act(admin, req, "decision/favorable", start_date=f"{today():%d/%m/%Y}")
    assert answer.status_code == 302, text(answer)[:3000]
    new = w.db.exec(select(Accreditation).where(Accreditation.request_id == req.id)).one()
    years = w.app.config["ACCREDITATION_YEARS"]
    assert (new.start_date, new.end_date) == (follows, follows + relativedelta(years=years))
    assert new.number == f"H{w.org.code}/{today().year}/SST-1/C/01"
    w.db.refresh(old)
    assert old.end_date == today() + timedelta(days=90), "the current one is not extended"


def favourable_inputs(w, req):
    (platform,) = flow.platforms_of_request(w.db, req.id)
    # the day of submission in Paris, as the rule and its message count it (at 23:30 UTC,
    # 40 days back in summer time, it is already the next day there)
    submitted = to_paris(req.submitted_at).date()
    good = f"{today() - timedelta(days=5):%d/%m/%Y}"
    field = f"plateforme_{platform.id}"
    return platform, submitted, good, field


# (what is typed, the field whose message is expected, the message)
BAD_DECISIONS = [
    (
        {"start_date": ""},
        "decision-debut",
        "Indiquez la date de début de l'habilitation (date de la décision CNH).",
    ),
    (
        {"start_date": "SUBMITTED-1"},
        "decision-debut",
        "La date de début ne peut pas précéder la demande (soumise le SUBMITTED).",
    ),
    (
        {"start_date": "31/02/2026"},
        "decision-debut",
        "Saisissez une date valide, par exemple 14/07/1990.",
    ),
    (
        {"platform": ""},
        "decision-plateforme-ID",
        "Indiquez la date d'approbation CNH de la plateforme « Plateforme n° 1 Ağrı ».",
    ),
    (
        {"platform": "TOMORROW"},
        "decision-plateforme-ID",
        "La date d'approbation de « Plateforme n° 1 Ağrı » ne peut pas être dans le futur.",
    ),
]


@pytest.mark.parametrize(("typed", "field_id", "message"), BAD_DECISIONS)
def test_a_bad_favourable_decision_says_why_next_to_the_field(w, typed, field_id, message):
    req = w.request(P.CNH, scheme="ECHAF", level=1, platforms=1)
    platform, submitted, good, field = favourable_inputs(w, req)
    values = {
        "SUBMITTED-1": f"{submitted - timedelta(days=1):%d/%m/%Y}",
        "TOMORROW": f"{today() + timedelta(days=1):%d/%m/%Y}",
    }
    start = typed.get("start_date", good)
    approval = typed.get("platform", good)
    data = {"start_date": values.get(start, start), field: values.get(approval, approval)}
    version = req.version
    before = w.written()
    answer = act(w.client("admin"), req, "decision/favorable", version=version, **data)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    expected = message.replace("SUBMITTED", f"{submitted:%d/%m/%Y}")
    assert field_error(page, field_id.replace("ID", str(platform.id))) == expected
    # what was typed is kept
    assert f'value="{data["start_date"]}"' in page
    if data[field]:
        assert f'value="{data[field]}"' in page
    after = w.fresh(req)
    assert (after.phase, after.version) == (P.CNH, version)
    assert w.written() == before


def test_an_unfavourable_decision_needs_a_reason_and_tells_the_entity(w, smtp_server):
    req = w.request(P.CNH, scheme="APS-ASD", level=2)
    admin = w.client("admin")
    before = w.written()
    refused = act(admin, req, "decision/defavorable", reason="")
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "decision-motif") == (
        "Expliquez dans le commentaire ce qu'il faut compléter ou corriger."
    )
    assert w.written() == before

    reason = "Les programmes ne suivent pas le référentiel APS-ASD 2024."
    answer = act(admin, req, "decision/defavorable", reason=reason)
    assert answer.status_code == 302
    done = w.fresh(req)
    assert (done.phase, done.decision_comment) == (P.UNFAVOURABLE, reason)
    assert w.db.exec(select(Accreditation)).all() == []
    assert reason in text(w.client("alice").get(page_of(req)))

    w.app.config["SMTP_PORT"] = smtp_server.port
    with w.app.app_context():
        deliver_outbox()
    refusals = [m for m in smtp_server.messages if "défavorable" in m["Subject"]]
    assert sorted(m["To"] for m in refusals) == ["alice@exemple.fr", "stefan@exemple.fr"]
    assert reason in refusals[0].get_body(("plain",)).get_content()


@pytest.mark.skipif(not is_postgres(), reason="SQLite runs one write at a time")
def test_two_favourable_decisions_at_the_same_instant_get_two_numbers_on_postgresql(w):
    """Two requests of one entity for one dispositif-level decided at once by two
    administrators: the sequence is taken once each (00 and 01), no one sees an error."""
    first = w.request(P.CNH, scheme="SST", level=2)
    second = w.request(P.CNH, scheme="SST", level=2)
    clients = [w.client("admin"), w.client("admin2")]
    tokens = [csrf_token(c, "/") for c in clients]
    barrier = threading.Barrier(2)
    answers = {}
    start = f"{today():%d/%m/%Y}"

    def run(i, req):
        barrier.wait()
        answers[i] = clients[i].post(
            f"/habilitations/demandes/{req.id}/decision/favorable",
            data={"csrf_token": tokens[i], "version": str(req.version), "start_date": start},
        )

    threads = [threading.Thread(target=run, args=(i, req)) for i, req in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [answers[i].status_code for i in (0, 1)] == [302, 302]
    numbers = sorted(w.db.exec(select(Accreditation.number)).all())
    prefix = f"H{w.org.code}/{today().year}/SST-2/C/"
    assert numbers == [prefix + "00", prefix + "01"]


# --- the queue and the dashboard ------------------------------------------------------------------


def test_the_queue_and_the_dashboard_lead_to_the_requests_of_each_phase(w):
    by_phase = {
        phase: w.request(phase, scheme=scheme)
        for phase, scheme in (
            (P.FILE_COMPLETE, "SST"),
            (P.PHASE_1, "PRAP-IBC"),
            (P.PHASE_2, "PRAP-2S"),
            (P.CNH, "ALM"),
        )
    }
    extra_phase_1 = w.request(P.PHASE_1, scheme="APS-ASD")
    w.request(P.RETURNED, scheme="CATEC", returned_from=P.PHASE_1)
    w.request(P.DRAFT, scheme="ECHAF", submitted_at=None)
    instructor = w.client("instructeur")

    board = text(instructor.get("/"))
    links = dict(
        (label, (href, int(count)))
        for href, label, count in re.findall(
            r'<a href="([^"]+)">Demandes d\'habilitation — ([^<]+)</a></dt><dd>(\d+)</dd>', board
        )
    )
    assert {label: count for label, (_href, count) in links.items()} == {
        "Dossier administratif complet": 1,
        "Instruction en cours phase 1": 2,
        "Instruction en cours phase 2": 1,
        "Décision CNH en cours": 1,
    }
    for label, (href, count) in links.items():
        listed = text(instructor.get(href))
        ids = re.findall(r'href="/habilitations/demandes/(\d+)/informations"', listed)
        assert len(ids) == count, label
        for request_id in ids:
            assert w.db.get(AccreditationRequest, int(request_id)).phase != P.RETURNED
        assert f"selected>{label}</option>" in listed
    phase_1 = text(instructor.get(links["Instruction en cours phase 1"][0]))
    assert {
        int(i) for i in re.findall(r'/habilitations/demandes/(\d+)/informations"', phase_1)
    } == {
        by_phase[P.PHASE_1].id,
        extra_phase_1.id,
    }

    # the queue's link opens the request
    opened = instructor.get(page_of(by_phase[P.PHASE_2]))
    assert opened.status_code == 200
    assert "Phase 2 complète : transmettre à la CNH" in text(opened)

    # the administrator's "Demandes en décision CNH"
    admin = w.client("admin")
    board = text(admin.get("/"))
    found = re.search(r'<a href="([^"]+)">Demandes en décision CNH</a></dt><dd>(\d+)</dd>', board)
    assert found and found.group(2) == "1"
    listed = text(admin.get(found.group(1)))
    assert re.findall(r'href="/habilitations/demandes/(\d+)/informations"', listed) == [
        str(by_phase[P.CNH].id)
    ]
    assert "Enregistrer la décision favorable" in text(admin.get(page_of(by_phase[P.CNH])))
