"""The app as every kind of user meets it, for the proofs that cover every route.

`build_world` loads the demo data, gives it what the demo only gets from its workers
(a generated bundle, an alert, a targeted message), logs in one client per actor and
names the objects each route is tried on. The objects belong to entity A (MAROSE
FORMATION) and were declared by its gestionnaire, so every other actor is an outsider.
`url_for_rule` turns any rule of the URL map into a URL on those objects: a new route
is covered the day it appears, or the proofs fail saying which argument they lack.
"""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.contact_requests import give_reference
from app.domain.storage import get_storage
from app.domain.targeted_messages import Audience, send_message
from app.models import (
    Accreditation,
    AccreditationRequest,
    Alert,
    Certificate,
    CertSession,
    ContactRequest,
    Delegation,
    Equipment,
    FaqEntry,
    Organization,
    OrganizationChange,
    Person,
    Platform,
    RequestDocument,
    RoleGrant,
    Scheme,
    SchemeLevel,
    StatCounter,
    Trainee,
)
from app.models.accreditations import RequestKind, RequestPhase
from app.models.cert_sessions import SessionState
from app.models.people import Role
from jobs.certificates import generate_certificates
from seeds.demo import load_demo

DEMO_PASSWORD = "Demo-Forprev-2026"
PROOF_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# actor → (Forprev number, role to switch to, organization name or None)
ACTORS: dict[str, tuple[str, Role, str | None] | None] = {
    "anonyme": None,
    "demandeur": ("JDE11223", Role.DEMANDEUR, None),
    "gestionnaire_a": ("ROM37899", Role.GESTIONNAIRE, "MAROSE FORMATION"),
    "gestionnaire_b": ("KPA12345", Role.GESTIONNAIRE, "FORMATION GUY"),
    "delegataire": ("SDE24680", Role.DELEGATAIRE, "MAROSE FORMATION"),
    "formateur": ("STE55501", Role.FORMATEUR, None),
    "formateur_autre": ("MAR55504", Role.FORMATEUR, None),
    # the instructor of entity A's caisse (Carsat Alsace-Moselle), and one of another
    "instructeur": ("CAM00001", Role.INSTRUCTEUR, None),
    "instructeur_autre": ("CRF00001", Role.INSTRUCTEUR, None),
    "administrateur": ("INR00001", Role.ADMINISTRATEUR, None),
}

# which demo session each session route is tried on (all of MAROSE, declared by its
# gestionnaire; the trainer, where there is one, is the actor "formateur")
SESSION_FOR_ENDPOINT = {
    "cert_sessions.trainer_results": "trainer",
    "cert_sessions.modify": "entity",
    "cert_sessions.generate": "entity",
    "cert_sessions.download_pdf": "closed",
    "cert_sessions.download_zip": "closed",
    "cert_sessions.progress": "closed",
    "cert_sessions.mark_downloaded": "closed",
    "cert_sessions.retry_generation": "closed",
    "exports.passport": "closed",
}

# which of the demandeur's requests each of their routes is tried on (the others: the
# submitted one, which the caisse instructs)
REQUEST_FOR_ENDPOINT = {
    "entity_requests.step": "organization:draft",
    "entity_requests.save": "organization:draft",
    "entity_requests.confirm_abandon": "organization:draft",
    "entity_requests.abandon": "organization:draft",
    "entity_requests.view": "organization:returned",
    "entity_requests.attestation": "organization:returned",
    # the CSV exports of entity A's activity
    "exports.activity": "organization:marose",
    "exports.activity_by_scheme": "organization:marose",
}

# which of entity A's accreditation requests each route is tried on: the draft for the
# gestionnaire's changes, the one in phase 1 for reading it (the caisse sees it too) and
# for the instructor's "complet" / "incomplet", the others for their own phase's action
ACCREDITATION_REQUEST_FOR_ENDPOINT = {
    "accreditation_requests.show": "phase_1",
    "accreditation_requests.tab": "phase_1",
    "accreditation_requests.commitment_letter": "phase_1",
    "accreditation_requests.download_document": "phase_1",
    "accreditation_decisions.start": "file_complete",
    "accreditation_decisions.complete": "phase_1",
    "accreditation_decisions.incomplete": "phase_1",
    "accreditation_decisions.favourable": "cnh",
    "accreditation_decisions.unfavourable": "cnh",
}
# which of entity A's accreditations: SST / 1 (delegated to the délégataire) unless said
ACCREDITATION_FOR_ENDPOINT = {
    "accreditations.decision_letter": "catec",
    "accreditations.document": "catec",
    "accreditations.add_platform": "catec",
    "accreditations.approve_platform": "catec",
    "accreditation_requests.renew": "renewable",
}
TAB_FOR_ENDPOINT = {
    "accreditation_requests.tab": "informations",
    "accreditation_requests.save": "informations",
    "accreditations.tab": "general",
}

CSRF_FIELD = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')


@dataclass
class World:
    app: Flask
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    ids: dict[str, object] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # text an outsider must never see

    def client(self, actor: str) -> FlaskClient:
        return self.clients[actor]

    def login(self, actor: str, address: str | None = None) -> FlaskClient:
        """A fresh client logged in as `actor` with its role active (from `address`, when
        given: logins are throttled per address)."""
        client = self.app.test_client()
        if address is not None:
            client.environ_base["REMOTE_ADDR"] = address
        spec = ACTORS[actor]
        if spec is None:
            client.get("/connexion")
            return client
        number, role, org_name = spec
        answer = client.post(
            "/connexion",
            data={
                "identifier": number,
                "password": DEMO_PASSWORD,
                "csrf_token": csrf_of(client, "/connexion"),
            },
        )
        assert answer.status_code == 302, f"{actor} ne se connecte pas"
        grant_id = self.ids[f"grant:{actor}"]
        switched = client.post(
            "/role", data={"grant_id": str(grant_id), "csrf_token": csrf_of(client, "/")}
        )
        assert switched.status_code == 302, f"{actor} ne prend pas le rôle {role}"
        return client


def csrf_of(client: FlaskClient, path: str = "/") -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF_FIELD.search(html) or CSRF_HEADER.search(html)
    assert match, f"pas de jeton CSRF sur {path}"
    return match.group(1)


def build_world(app: Flask) -> World:
    world = World(app)
    engine = app.extensions["forprev_engine"]
    with app.app_context(), Session(engine, expire_on_commit=False) as db:
        load_demo(db)
        db.commit()
        _name_objects(db, world)
        db.commit()
        generate_certificates(world.ids["cert_session:closed"])
    for actor in ACTORS:
        world.clients[actor] = world.login(actor)
    return world


def _name_objects(db: Session, world: World) -> None:
    ids = world.ids
    people = {
        p.forprev_number: p
        for p in db.exec(
            select(Person).where(
                Person.forprev_number.in_([s[0] for s in ACTORS.values() if s])  # type: ignore[union-attr]
            )
        )
    }
    orgs = {o.name: o for o in db.exec(select(Organization))}
    for actor, spec in ACTORS.items():
        if spec is None:
            continue
        number, role, org_name = spec
        person = people[number]
        ids[f"person:{actor}"] = person.id
        query = select(RoleGrant).where(RoleGrant.person_id == person.id, RoleGrant.role == role)
        if org_name:
            query = query.where(RoleGrant.organization_id == orgs[org_name].id)
        ids[f"grant:{actor}"] = db.exec(query).first().id

    marose = orgs["MAROSE FORMATION"]
    ids["organization:marose"] = marose.id
    # "Organismes habilités": entity A chose to be listed, with an e-mail to reach it
    marose.public_listing, marose.public_email = True, "contact@marose-formation.fr"
    db.add(marose)
    owner = ids["person:gestionnaire_a"]
    trainer = ids["person:formateur"]
    sessions = db.exec(
        select(CertSession).where(CertSession.organization_id == marose.id).order_by(CertSession.id)
    ).all()

    def pick(state, created_by=owner):
        return next(s for s in sessions if s.state == state and s.created_by_id == created_by)

    ids["cert_session:draft"] = pick(SessionState.DRAFT).id
    ids["cert_session:entity"] = pick(SessionState.ENTITY).id
    ids["cert_session:closed"] = pick(SessionState.CLOSED).id
    # the one session in the trainer's hands was declared by the délégataire
    ids["cert_session:trainer"] = pick(
        SessionState.TRAINER, created_by=ids["person:delegataire"]
    ).id
    assert all(s.trainer_id in (None, trainer) for s in sessions), (
        "les sessions de MAROSE ont pour formateur l'acteur « formateur »"
    )
    trainee = db.exec(
        select(Trainee).where(Trainee.cert_session_id == ids["cert_session:draft"])
    ).first()
    ids["trainee"] = trainee.id
    world.secrets += [trainee.last_name]

    certificate = db.exec(select(Certificate).where(Certificate.person_id == trainer)).first()
    # the demo's trainer certificates have no PDF until a session issues one
    certificate.file_id = (
        get_storage()
        .save(db, name="certificat.pdf", content_type="application/pdf", data=b"%PDF-1.4 preuve")
        .id
    )
    db.add(certificate)
    ids["certificate"] = certificate.id
    ids["verification_code"] = certificate.verification_code

    alert = Alert(
        person_id=owner,
        key="preuve",
        kind="habilitation",
        message="Votre habilitation SST arrive à échéance.",
        link="/habilitations/",
    )
    db.add(alert)
    db.flush()
    ids["alert"] = alert.id

    message, _count = send_message(
        db,
        author_id=ids["person:administrateur"],
        title="Message aux formateurs",
        body="Les formateurs seuls reçoivent ce message.",
        audience=Audience(roles=[Role.FORMATEUR.value]),
        display_from=utcnow() - timedelta(hours=1),
        display_until=None,
    )
    ids["message"] = message.id

    # "Utilisateurs": a délégataire of MAROSE who is none of the actors, whose role the
    # routes about one role change or remove without touching an actor's
    member = Person(
        forprev_number="MEM00001",
        email="membre@demo.forprev.fr",
        last_name="MEMBRE",
        first_name="Mona",
        password_hash=db.get(Person, owner).password_hash,
    )
    db.add(member)
    db.flush()
    member_grant = RoleGrant(person_id=member.id, role=Role.DELEGATAIRE, organization_id=marose.id)
    db.add(member_grant)
    db.flush()
    delegated = db.exec(
        select(Delegation.accreditation_id).where(Delegation.person_id == ids["person:delegataire"])
    ).first()
    db.add(Delegation(person_id=member.id, accreditation_id=delegated))
    ids["grant:membre"] = member_grant.id

    # "Demandes à instruire": the demo's request submitted to entity A's caisse, with its
    # URSSAF attestation, and a change of entity A's data pending there
    submitted = next(
        o for o in orgs.values() if o.status == "en_validation" and o.fund_id == marose.fund_id
    )
    ids["organization:submitted"] = submitted.id
    change = OrganizationChange(
        organization_id=marose.id,
        requested_by_id=owner,
        changes={"name": "MAROSE FORMATION CONTINUE", "regime": "Régime agricole"},
        urssaf_file_id=get_storage()
        .save(db, name="attestation-urssaf.pdf", content_type="application/pdf", data=PROOF_PDF)
        .id,
        fund_id=marose.fund_id,
    )
    db.add(change)
    if submitted.urssaf_file_id is None:
        submitted.urssaf_file_id = (
            get_storage()
            .save(db, name="attestation-urssaf.pdf", content_type="application/pdf", data=PROOF_PDF)
            .id
        )
        db.add(submitted)
    db.flush()
    ids["organization_change:pending"] = change.id
    # the demandeur's own requests besides the submitted one: a draft and one sent back
    for status, key in (("brouillon", "organization:draft"), ("renvoyee", "organization:returned")):
        ids[key] = next(
            o.id
            for o in orgs.values()
            if o.status == status and o.created_by_id == ids["person:demandeur"]
        )

    _name_accreditation_objects(db, world, marose)

    # "Demandes d'assistance": an open request the demandeur sent to the support
    contact_request = ContactRequest(
        person_id=ids["person:demandeur"],
        email=db.get(Person, ids["person:demandeur"]).email,
        subject="Mon entité",
        message="Où en est ma demande de nouvelle entité ?",
    )
    give_reference(db, contact_request)
    ids["contact_request"] = contact_request.id
    world.secrets += [contact_request.message]

    # "Aide et assistance": a question of the FAQ the reference seed ships, one the
    # administrators' routes edit, move and delete
    ids["faq_entry"] = db.exec(select(FaqEntry.id).order_by(FaqEntry.id)).first()

    # "Statistiques": anonymous counts of earlier years, entity A's (also among all the
    # entities', 0) and another caisse's, per year (month 0) and some per month
    for year, month, department, org_id, successes, failures in (
        (2024, 0, "67", marose.id, 14, 2),
        (2024, 0, "67", 0, 14, 2),
        (2024, 6, "67", 0, 14, 2),
        (2025, 0, "67", marose.id, 9, 1),
        (2025, 0, "67", 0, 9, 1),
        (2025, 3, "67", 0, 9, 1),
        (2025, 0, "75", 0, 11, 4),
    ):
        db.add(
            StatCounter(
                year=year,
                month=month,
                department_code=department,
                scheme_code="SST",
                level=1,
                organization_id=org_id,
                successes=successes,
                failures=failures,
                sessions=1,
            )
        )


def _name_accreditation_objects(db: Session, world: World, marose: Organization) -> None:
    """Entity A's accreditation requests in each phase (the demo's, and one waiting for
    the CNH), its accreditations, and the documents, platforms and equipment the routes
    about one of them act on."""
    ids = world.ids
    requests = db.exec(
        select(AccreditationRequest)
        .where(AccreditationRequest.organization_id == marose.id)
        .order_by(AccreditationRequest.id)
    ).all()
    for phase, key in (
        (RequestPhase.DRAFT, "draft"),
        (RequestPhase.RETURNED, "returned"),
        (RequestPhase.FILE_COMPLETE, "file_complete"),
        (RequestPhase.PHASE_1, "phase_1"),
    ):
        ids[f"accreditation_request:{key}"] = next(r.id for r in requests if r.phase == phase)
    alm2 = db.exec(
        select(SchemeLevel.id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Scheme.code == "ALM", SchemeLevel.level == 2)
    ).one()
    cnh = AccreditationRequest(
        organization_id=marose.id,
        scheme_level_id=alm2,
        fund_id=marose.fund_id,
        kind=RequestKind.ADDITIONAL,
        phase=RequestPhase.CNH,
        created_by_id=ids["person:gestionnaire_a"],
        submitted_at=utcnow() - timedelta(days=40),
        requester_comment="Demande ALM 2 confidentielle de MAROSE",
    )
    db.add(cnh)
    db.flush()
    ids["accreditation_request:cnh"] = cnh.id
    world.secrets.append(cnh.requester_comment)
    draft = ids["accreditation_request:draft"]
    equipment = Equipment(request_id=draft, label="Harnais antichute", quantity=4)
    db.add(equipment)
    db.flush()
    ids["equipment"] = equipment.id
    ids["platform:request"] = db.exec(
        select(Platform.id).where(Platform.request_id == draft)
    ).first()
    for key in ("draft", "phase_1"):
        ids[f"request_document:{key}"] = db.exec(
            select(RequestDocument.id).where(
                RequestDocument.request_id == ids[f"accreditation_request:{key}"]
            )
        ).first()

    accreditations = db.exec(
        select(Accreditation, Scheme.code, SchemeLevel.level)
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Accreditation.organization_id == marose.id)
    ).all()
    by_label = {f"{code}-{level}": acc for acc, code, level in accreditations}
    catec = by_label["CATEC-1"]
    ids["accreditation:sst1"] = by_label["SST-1"].id
    ids["accreditation:catec"] = catec.id
    ids["accreditation:renewable"] = by_label["PRAP-IBC-1"].id
    ids["accreditation_document:catec"] = db.exec(
        select(RequestDocument.id).where(RequestDocument.request_id == catec.request_id)
    ).first()
    waiting = Platform(
        accreditation_id=catec.id,
        name="Plateforme CATEC Sélestat",
        address="3 rue de la Gare",
        postal_code="67600",
        city="SÉLESTAT",
    )
    db.add(waiting)
    db.flush()
    ids["platform:waiting"] = waiting.id
    _back_office_objects(db, world)


# which of the back office's objects each route is tried on
PERSON_FOR_ENDPOINT = {
    # "Personnes": a trainer of entity A's caisse who is none of the actors (the caisse's
    # instructor reaches them, the other caisse's does not); his deactivated colleague
    "people.reactivate": "person:deactivated",
    # a trainer's qualifications: the actor "formateur"'s
    "qualifications.new": "person:formateur",
    "qualifications.check_field": "person:formateur",
    "qualifications.index": "person:formateur",
    "qualifications.withdraw": "person:formateur",
    "qualifications.download": "person:formateur",
}
RUN_FOR_ENDPOINT = {"imports.retry": "import_run:failed"}


def _back_office_objects(db: Session, world: World) -> None:
    """The catalogue's SST / 1 (its model, a document it asks for, the qualification of
    its trainers), a person to correct, deactivate and merge into with a duplicate, a
    deactivated one, a qualification recorded with its PDF, a second instructor of entity
    A's caisse, and two imports (an essai with refused lines, a failed run)."""
    from app.domain.importing import runner
    from app.models import (
        CertificateModel,
        DocumentRequirement,
        Fund,
        ImportRun,
        LevelQualification,
        Qualification,
    )

    ids = world.ids
    sst1 = db.exec(
        select(SchemeLevel.id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Scheme.code == "SST", SchemeLevel.level == 1)
    ).one()
    ids["scheme_level:sst1"] = sst1
    ids["certificate_model:sst1"] = db.exec(
        select(CertificateModel.id).where(CertificateModel.scheme_level_id == sst1)
    ).first()
    ids["document_requirement:sst1"] = db.exec(
        select(DocumentRequirement.id).where(DocumentRequirement.scheme_level_id == sst1)
    ).first()
    ids["level_qualification:sst1"] = db.exec(
        select(LevelQualification.id).where(LevelQualification.scheme_level_id == sst1)
    ).first()
    alsace = db.exec(select(Fund).where(Fund.code == "ALSACE-MOSELLE")).one()
    ids["fund:alsace"] = alsace.id
    ids["person:managed"] = db.exec(
        select(Person.id).where(Person.forprev_number == "PAU55502")
    ).one()
    for key, number, first, email in (
        ("person:deactivated", "DEA00001", "Désiré", "desire.arnaud@exemple.fr"),
        ("person:duplicate", "DOU00001", "Paul", "paul.schmitt.doublon@exemple.fr"),
    ):
        other = Person(
            forprev_number=number,
            email=email,
            first_name=first,
            last_name="ARNAUD" if key == "person:deactivated" else "SCHMITT",
            birth_date=date(1970, 10, 3),
            trainer_fund_id=alsace.id,
        )
        if key == "person:deactivated":
            other.active, other.deactivated_at = False, utcnow()
        db.add(other)
        db.flush()
        ids[key] = other.id
        ids[f"forprev_number:{key}"] = number
    extra = Person(
        forprev_number="CAM00009",
        email="second.instructeur@exemple.fr",
        first_name="Second",
        last_name="INSTRUCTEUR",
        birth_date=date(1980, 1, 1),
    )
    db.add(extra)
    db.flush()
    grant = RoleGrant(person_id=extra.id, role=Role.INSTRUCTEUR, fund_id=alsace.id)
    db.add(grant)
    db.flush()
    ids["grant:instructeur_extra"] = grant.id
    stored = get_storage().save(
        db, name="qualification-inrs.pdf", content_type="application/pdf", data=PROOF_PDF
    )
    model = db.exec(
        select(CertificateModel.id).where(
            CertificateModel.name == "Certificat de formateur de formateurs CATEC"
        )
    ).one()
    qualification = Qualification(
        person_id=ids["person:formateur"],
        certificate_model_id=model,
        valid_from=today() - timedelta(days=30),
        valid_until=today() + timedelta(days=700),
        file_id=stored.id,
        note="Qualification confidentielle de Stéphanie",
        recorded_by_id=ids["person:administrateur"],
    )
    db.add(qualification)
    db.flush()
    ids["qualification"] = qualification.id
    world.secrets.append(qualification.note)
    csv = "numero_forprev;nom;prenom;date_naissance;email\nXX;Nom;Prénom;31/02/1990;x\n"
    upload = runner.store_import_file(db, "personnes.csv", [csv.encode()])
    for key, status in (("import_run:essai", "termine"), ("import_run:failed", "echoue")):
        run = ImportRun(
            kind="personnes",
            dry_run=True,
            status=status,
            file_id=upload.id,
            total=1,
            done=1,
            refused=1 if status == "termine" else 0,
            error=None if status == "termine" else "Échec à la ligne 2 : panne.",
            created_by_id=ids["person:administrateur"],
            finished_at=utcnow(),
        )
        if status == "termine":
            report = "numero_forprev;nom;prenom;date_naissance;email;ligne;motif\n"
            report += "XX;Nom;Prénom;31/02/1990;x;2;date impossible : 31/02/1990\n"
            run.report_file_id = runner.store_import_file(
                db, "refus.csv", [report.encode("utf-8-sig")]
            ).id
        db.add(run)
        db.flush()
        ids[key] = run.id


def _accreditation_request(world: World, endpoint: str) -> int:
    return world.ids[
        "accreditation_request:" + ACCREDITATION_REQUEST_FOR_ENDPOINT.get(endpoint, "draft")
    ]


def _accreditation(world: World, endpoint: str) -> int:
    return world.ids["accreditation:" + ACCREDITATION_FOR_ENDPOINT.get(endpoint, "sst1")]


def _document(world: World, endpoint: str) -> int:
    if endpoint == "accreditations.document":
        return world.ids["accreditation_document:catec"]
    if endpoint == "accreditation_requests.download_document":
        return world.ids["request_document:phase_1"]
    return world.ids["request_document:draft"]


def _platform(world: World, endpoint: str) -> int:
    if endpoint.startswith("accreditations."):
        return world.ids["platform:waiting"]
    return world.ids["platform:request"]


ARGUMENTS = {
    "alert_id": lambda world, endpoint: world.ids["alert"],
    "contact_request_id": lambda world, endpoint: world.ids["contact_request"],
    "entry_id": lambda world, endpoint: world.ids["faq_entry"],
    "role": lambda world, endpoint: "gestionnaire",  # a manual's role
    "message_id": lambda world, endpoint: world.ids["message"],
    "certificate_id": lambda world, endpoint: world.ids["certificate"],
    "trainee_id": lambda world, endpoint: world.ids["trainee"],
    "code": lambda world, endpoint: world.ids["verification_code"],
    "token": lambda world, endpoint: "jeton-inconnu-0123456789abcdef",
    "tab": lambda world, endpoint: TAB_FOR_ENDPOINT.get(endpoint, "stagiaires"),
    "request_id": _accreditation_request,
    "accreditation_id": _accreditation,
    "document_id": _document,
    "platform_id": _platform,
    "equipment_id": lambda world, endpoint: world.ids["equipment"],
    "kind": lambda world, endpoint: "programme",  # a document an ECHAF request asks for
    "grant_id": lambda world, endpoint: world.ids[
        "grant:instructeur_extra" if endpoint.startswith("funds.") else "grant:membre"
    ],
    "level_id": lambda world, endpoint: world.ids["scheme_level:sst1"],
    "model_id": lambda world, endpoint: world.ids["certificate_model:sst1"],
    "requirement_id": lambda world, endpoint: world.ids["document_requirement:sst1"],
    "qualification_id": lambda world, endpoint: world.ids[
        "level_qualification:sst1" if endpoint.startswith("catalogue.") else "qualification"
    ],
    "person_id": lambda world, endpoint: world.ids[
        PERSON_FOR_ENDPOINT.get(endpoint, "person:managed")
    ],
    "fund_id": lambda world, endpoint: world.ids["fund:alsace"],
    "run_id": lambda world, endpoint: world.ids[RUN_FOR_ENDPOINT.get(endpoint, "import_run:essai")],
    "organization_id": lambda world, endpoint: world.ids[
        REQUEST_FOR_ENDPOINT.get(endpoint, "organization:submitted")
    ],
    "step": lambda world, endpoint: 1,
    "change_id": lambda world, endpoint: world.ids["organization_change:pending"],
    "filename": lambda world, endpoint: "css/forprev.css",
    "slug": lambda world, endpoint: "annees",
    "cert_session_id": lambda world, endpoint: world.ids[
        "cert_session:" + SESSION_FOR_ENDPOINT.get(endpoint, "draft")
    ],
}


def url_for_rule(world: World, rule) -> str:
    values = {}
    for name in rule.arguments:
        assert name in ARGUMENTS, f"{rule.rule} : aucun objet pour l'argument « {name} »"
        values[name] = ARGUMENTS[name](world, rule.endpoint)
    with world.app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def routes(app: Flask):
    """(rule, method) for every route of the app, HEAD and OPTIONS aside."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


# the catalogue and the caisses' routing: the back office's forms change them, and the
# tests that follow rely on them as the reference seed left them
REFERENCE = [
    "fund",
    "department",
    "scheme",
    "schemelevel",
    "certificatemodel",
    "levelqualification",
    "documentrequirement",
]


def reference_snapshot(engine) -> dict[str, list[dict]]:
    from sqlmodel import SQLModel

    with engine.connect() as conn:
        return {
            name: [
                dict(row._mapping) for row in conn.execute(SQLModel.metadata.tables[name].select())
            ]
            for name in REFERENCE
        }


def restore_reference(engine, snapshot: dict[str, list[dict]]) -> None:
    """Every reference row as in `snapshot`: changed ones put back, added ones deleted
    (the rows pointing at them first), missing ones inserted."""
    from sqlalchemy import tuple_
    from sqlmodel import SQLModel

    with engine.begin() as conn:
        for name in reversed(REFERENCE):
            table = SQLModel.metadata.tables[name]
            keys = list(table.primary_key.columns)
            kept = [tuple(row[k.name] for k in keys) for row in snapshot[name]]
            conn.execute(table.delete().where(tuple_(*keys).not_in(kept)))
        for name in REFERENCE:
            table = SQLModel.metadata.tables[name]
            keys = list(table.primary_key.columns)
            for row in snapshot[name]:
                where = [k == row[k.name] for k in keys]
                if conn.execute(table.update().where(*where).values(**row)).rowcount == 0:
                    conn.execute(table.insert().values(**row))
