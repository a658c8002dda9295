"""Demo data of REFERENCE.md §6 (`flask seed demo`), dates relative to today.

Enough to walk every screen in every role. Loading twice changes nothing: the demo is
recognised by its administrator's e-mail.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from html import escape

from dateutil.relativedelta import relativedelta
from flask import has_app_context
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.accreditation_numbers import accreditation_number
from app.domain.caisse_routing import fund_for_postal_code
from app.domain.certificate_numbers import new_verification_code, next_certificate_number
from app.domain.passwords import hash_password
from app.models import (
    Accreditation,
    AccreditationRequest,
    AuditEvent,
    Certificate,
    CertificateModel,
    CertSession,
    Delegation,
    DocumentRequirement,
    Equipment,
    Fund,
    Notification,
    Organization,
    Person,
    Platform,
    Qualification,
    RequestDocument,
    RoleGrant,
    Scheme,
    SchemeLevel,
    Suspension,
    Trainee,
)
from app.models.accreditations import RequestKind, RequestPhase
from app.models.cert_sessions import SessionState
from app.models.organizations import OrganizationKind, OrganizationStatus
from app.models.people import Role
from seeds.reference import load_reference

P = RequestPhase
DEMO_PASSWORD = "Demo-Forprev-2026"
ADMIN_EMAIL = "admin@inrs.demo.forprev.fr"


# what the demo's uploaded documents say, by kind
DOCUMENT_LINES = {
    "programme": [
        "Jour 1 : le cadre réglementaire, les acteurs de la prévention, les risques du métier.",
        "Jour 2 : mises en situation, évaluation certificative.",
    ],
    "deroule": [
        "9 h 00 : accueil et recueil des attentes. 10 h 30 : apports théoriques.",
        "14 h 00 : études de cas et mises en situation. 17 h 00 : bilan.",
    ],
    "materiel": [
        "Le matériel est acheté neuf, vérifié avant chaque session et contrôlé chaque année "
        "par un organisme agréé."
    ],
    "recap_materiel": ["Détecteurs 4 gaz : 6. Trépieds et treuils : 2. Harnais : 12."],
    "dossier_technique": [
        "Plans des plateformes, notices des équipements, rapports de vérification périodique."
    ],
    "complementaire": ["Plan d'accès aux plateformes et consignes de sécurité du site."],
}


@lru_cache(maxsize=128)
def _pdf_bytes(html: str, title: str) -> bytes:
    """Drawn once per process: the test suite loads the demo many times."""
    from app.domain.certificate_pdf import html_to_pdf

    return html_to_pdf(html, title)


class _Demo:
    def __init__(self, db: Session):
        self.db = db
        self.today = today()
        self.password_hash = hash_password(DEMO_PASSWORD)

    # --- helpers -----------------------------------------------------------------------
    def level(self, scheme_code: str, level: int) -> SchemeLevel:
        return self.db.exec(
            select(SchemeLevel)
            .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
            .where(Scheme.code == scheme_code, SchemeLevel.level == level)
        ).one()

    def model(self, scheme_code: str, level: int) -> CertificateModel:
        return self.db.exec(
            select(CertificateModel)
            .where(
                CertificateModel.scheme_level_id == self.level(scheme_code, level).id,
                CertificateModel.issued_in_sessions.is_(True),
            )
            .order_by(CertificateModel.id)
        ).first()

    def fund(self, code: str) -> Fund:
        return self.db.exec(select(Fund).where(Fund.code == code)).one()

    def person(
        self,
        number: str,
        first: str,
        last: str,
        email: str,
        born: date,
        trainer_fund: str | None = None,
    ) -> Person:
        person = Person(
            forprev_number=number,
            email=email,
            first_name=first,
            last_name=last,
            birth_date=born,
            password_hash=self.password_hash,
            onboarded_at=utcnow(),
            trainer_fund_id=self.fund(trainer_fund).id if trainer_fund else None,
        )
        self.db.add(person)
        self.db.flush()
        return person

    def grant(
        self,
        person: Person,
        role: Role,
        organization: Organization | None = None,
        fund: Fund | None = None,
    ) -> RoleGrant:
        grant = RoleGrant(
            person_id=person.id,
            role=role,
            organization_id=organization.id if organization else None,
            fund_id=fund.id if fund else None,
        )
        self.db.add(grant)
        self.db.flush()
        return grant

    def organization(
        self,
        *,
        code,
        kind,
        name,
        siret,
        postal_code,
        city,
        address,
        creator: Person,
        status=OrganizationStatus.VALIDATED,
        activity_number=None,
    ) -> Organization:
        department, fund = fund_for_postal_code(self.db, postal_code)
        organization = Organization(
            code=code if status == OrganizationStatus.VALIDATED else None,
            kind=kind,
            name=name,
            regime="Régime général",
            siret=siret,
            activity_number=activity_number,
            address=address,
            postal_code=postal_code,
            city=city,
            department_code=department.code,
            fund_id=fund.id,
            status=status,
            signatory_last_name="DURAND",
            signatory_first_name="Claire",
            signatory_function="Directrice",
            created_by_id=creator.id,
            submitted_at=utcnow(),
            validated_at=utcnow() if status == OrganizationStatus.VALIDATED else None,
        )
        self.db.add(organization)
        self.db.flush()
        return organization

    def accreditation(
        self,
        organization: Organization,
        scheme_code: str,
        level: int,
        *,
        start: date,
        end: date,
        mobile: bool = False,
    ) -> Accreditation:
        scheme_level = self.level(scheme_code, level)
        accreditation = Accreditation(
            number=accreditation_number(
                entity_code=organization.code,
                year=start.year,
                scheme_code=scheme_code,
                level=level,
                organization_kind=organization.kind,
                sequence=0,
            ),
            organization_id=organization.id,
            scheme_level_id=scheme_level.id,
            start_date=start,
            end_date=end,
            mobile_platform=mobile,
        )
        self.db.add(accreditation)
        self.db.flush()
        return accreditation

    def pdf(self, file_name: str, title: str, organization: Organization, lines: list[str]):
        """A small real PDF of the entity (a document it uploaded), stored like an upload."""
        from app.domain.storage import get_storage

        body = "".join(f"<p>{escape(line)}</p>" for line in lines)
        html = (
            f"<html><body><h1>{escape(title)}</h1><p><strong>{escape(organization.name)}"
            f"</strong>, {escape(organization.address)}, {organization.postal_code} "
            f"{escape(organization.city)}</p>{body}<p><em>Document de démonstration.</em></p>"
            "</body></html>"
        )
        return get_storage().save(
            self.db, name=file_name, content_type="application/pdf", data=_pdf_bytes(html, title)
        )

    def documents(self, request: AccreditationRequest, creator: Person, kinds=None) -> None:
        """The request's files: those its dispositif-level asks for (`kinds` for a draft
        still being filled), each a PDF naming the entity and the dispositif."""
        organization = self.db.get(Organization, request.organization_id)
        scheme_level = self.db.get(SchemeLevel, request.scheme_level_id)
        scheme = self.db.get(Scheme, scheme_level.scheme_id)
        label = f"{scheme.code} niveau {scheme_level.level}"
        slug = f"{scheme.code.lower()}-{scheme_level.level}"
        requirements = self.db.exec(
            select(DocumentRequirement)
            .where(DocumentRequirement.scheme_level_id == scheme_level.id)
            .order_by(DocumentRequirement.position)
        ).all()
        for requirement in requirements:
            wanted = requirement.required if kinds is None else requirement.kind in kinds
            if not wanted:
                continue
            lines = DOCUMENT_LINES.get(requirement.kind, [])
            if requirement.kind == "engagement":
                lines = [
                    f"{organization.name} s'engage à respecter le document de référence du "
                    f"dispositif {scheme.name} ({label}).",
                    f"Signé : {organization.signatory_first_name} "
                    f"{organization.signatory_last_name}, {organization.signatory_function}.",
                ]
            stored = self.pdf(
                f"{requirement.kind.replace('_', '-')}-{slug}.pdf",
                f"{requirement.label} — {label}",
                organization,
                lines,
            )
            self.db.add(
                RequestDocument(
                    request_id=request.id,
                    kind=requirement.kind,
                    label="Plan d'accès aux plateformes"
                    if requirement.kind == "complementaire"
                    else None,
                    file_id=stored.id,
                    uploaded_by_id=creator.id,
                    uploaded_at=request.created_at,
                )
            )
        self.db.flush()

    def request(
        self,
        organization: Organization,
        scheme_code: str,
        level: int,
        phase: RequestPhase,
        creator: Person,
        *,
        submitted: datetime | None = None,
        instructor: Person | None = None,
        requester_comment: str | None = None,
        return_comment: str | None = None,
        decision_comment: str | None = None,
        platforms: tuple[Platform, ...] = (),
        equipment: tuple[Equipment, ...] = (),
        mobile: bool = False,
        kinds: tuple[str, ...] | None = None,
    ) -> AccreditationRequest:
        """A request in `phase` as the state machine would have left it: its documents,
        platforms and equipment, its history (one audit event per transition, in the past),
        the decision, and the open task of whoever acts next."""
        submitted = submitted or utcnow() - timedelta(days=12)
        created = submitted - timedelta(days=5)
        # the instruction's steps, each a few days after the one before
        path = [P.DRAFT, P.FILE_COMPLETE, P.PHASE_1, P.PHASE_2, P.CNH]
        if phase == P.RETURNED:
            steps = [P.DRAFT, P.FILE_COMPLETE, P.PHASE_1, P.RETURNED]
        elif phase in (P.FAVOURABLE, P.UNFAVOURABLE):
            steps = [*path, phase]
        else:
            steps = path[: path.index(phase) + 1]
        at = {P.DRAFT: created}
        for number, step in enumerate(steps[1:]):
            at[step] = submitted + timedelta(days=3 * number)
        last = at[steps[-1]]
        request = AccreditationRequest(
            organization_id=organization.id,
            scheme_level_id=self.level(scheme_code, level).id,
            fund_id=organization.fund_id,
            kind=RequestKind.ADDITIONAL,
            phase=phase,
            mobile_platform=mobile,
            requester_comment=requester_comment,
            created_by_id=creator.id,
            created_at=created,
            updated_at=last,
            submitted_at=None if phase == P.DRAFT else submitted,
            decided_at=last if phase in (P.FAVOURABLE, P.UNFAVOURABLE) else None,
            decision_comment=decision_comment,
            return_comment=return_comment,
            returned_at=at.get(P.RETURNED),
            returned_from=P.PHASE_1 if phase == P.RETURNED else None,
            version=len(steps) + 4,
        )
        self.db.add(request)
        self.db.flush()
        self.documents(request, creator, kinds)
        for platform in platforms:
            platform.request_id = request.id
            self.db.add(platform)
        for item in equipment:
            item.request_id = request.id
            self.db.add(item)
        actors = {
            P.DRAFT: creator,
            P.FILE_COMPLETE: creator,
            P.PHASE_1: instructor,
            P.PHASE_2: instructor,
            P.CNH: instructor,
            P.RETURNED: instructor,
            P.FAVOURABLE: self.admin,
            P.UNFAVOURABLE: self.admin,
        }
        actions = {
            P.DRAFT: "created",
            P.FILE_COMPLETE: "submitted",
            P.PHASE_1: "phase_1_started",
            P.PHASE_2: "instruction_phase_1_complete",
            P.CNH: "instruction_phase_2_complete",
            P.RETURNED: "returned",
            P.FAVOURABLE: "favourable",
            P.UNFAVOURABLE: "unfavourable",
        }
        before = None
        for step in steps:
            self.db.add(
                AuditEvent(
                    at=at[step],
                    actor_id=actors[step].id,
                    action=f"accreditation_request.{actions[step]}",
                    object_type="accreditation_request",
                    object_id=request.id,
                    from_state=before,
                    to_state=step,
                    comment=return_comment
                    if step == P.RETURNED
                    else decision_comment
                    if step == P.UNFAVOURABLE
                    else None,
                )
            )
            before = step
        self.db.flush()
        self.task(request, phase, last)
        return request

    def task(self, request: AccreditationRequest, phase: RequestPhase, at: datetime) -> None:
        """The open task of the next actor, as the state machine gives it."""
        from app.domain.accreditation_flow import label_of

        label = label_of(self.db, request)
        if phase == P.FILE_COMPLETE:
            grants = self.db.exec(
                select(RoleGrant).where(
                    RoleGrant.role == Role.INSTRUCTEUR, RoleGrant.fund_id == request.fund_id
                )
            ).all()
            title = f"{label} à instruire"
        elif phase == P.RETURNED:
            grants = self.db.exec(
                select(RoleGrant).where(
                    RoleGrant.role == Role.GESTIONNAIRE,
                    RoleGrant.organization_id == request.organization_id,
                )
            ).all()
            title = f"{label} à compléter"
        elif phase == P.CNH:
            grants = self.db.exec(
                select(RoleGrant).where(RoleGrant.role == Role.ADMINISTRATEUR)
            ).all()
            title = f"{label} : décision CNH à enregistrer"
        else:
            return
        for grant in grants:
            self.db.add(
                Notification(
                    person_id=grant.person_id,
                    role_grant_id=grant.id,
                    kind="accreditation_request",
                    title=title,
                    link=f"/habilitations/demandes/{request.id}/informations",
                    object_type="accreditation_request",
                    object_id=request.id,
                    created_at=at,
                )
            )
        self.db.flush()

    def decided(self, accreditation: Accreditation, request: AccreditationRequest) -> None:
        """The accreditation a favourable request gave: linked to it, with its decision
        letter (drawn from the app's template when an app is there, `flask seed demo`)."""
        accreditation.request_id = request.id
        accreditation.created_at = request.decided_at
        self.db.add(accreditation)
        self.db.flush()
        organization = self.db.get(Organization, accreditation.organization_id)
        if has_app_context():
            from app.domain.accreditation_letters import decision_file_name, decision_letter_pdf
            from app.domain.storage import get_storage

            stored = get_storage().save(
                self.db,
                name=decision_file_name(accreditation),
                content_type="application/pdf",
                data=decision_letter_pdf(self.db, accreditation),
            )
        else:
            stored = self.pdf(
                "decision-cnh.pdf",
                f"Décision CNH — habilitation {accreditation.number}",
                organization,
                [
                    f"Habilitation accordée du {accreditation.start_date:%d/%m/%Y} au "
                    f"{accreditation.end_date:%d/%m/%Y}."
                ],
            )
        accreditation.decision_letter_file_id = stored.id
        self.db.add(accreditation)
        self.db.flush()

    def certificate(
        self,
        holder: Person,
        scheme_code: str,
        level: int,
        end: date,
        organization: Organization | None = None,
    ) -> Certificate:
        model = self.model(scheme_code, level)
        certificate = Certificate(
            number=next_certificate_number(self.db, end.year),
            verification_code=new_verification_code(),
            person_id=holder.id,
            certificate_model_id=model.id,
            scheme_level_id=model.scheme_level_id,
            organization_id=organization.id if organization else None,
            holder_initials=f"{holder.first_name[0]}. {holder.last_name[0]}.",
            holder_birth_year=holder.birth_date.year,
            session_end_date=end,
            valid_until=end + relativedelta(months=model.validity_months),
        )
        self.db.add(certificate)
        self.db.flush()
        return certificate

    def cert_session(
        self,
        organization,
        accreditation,
        creator,
        *,
        trainer,
        state,
        end: date,
        trainees: list[tuple],
        comment: str | None = None,
        location="Salle de formation",
        postal_code=None,
        city=None,
        last_actor=None,
    ) -> CertSession:
        cert_session = CertSession(
            organization_id=organization.id,
            accreditation_id=accreditation.id,
            scheme_level_id=accreditation.scheme_level_id,
            certificate_model_id=self.db.exec(
                select(CertificateModel.id)
                .where(
                    CertificateModel.scheme_level_id == accreditation.scheme_level_id,
                    CertificateModel.issued_in_sessions.is_(True),
                )
                .order_by(CertificateModel.id)
            ).first(),
            created_by_id=creator.id,
            trainer_id=trainer.id if trainer else None,
            location=location,
            postal_code=postal_code or organization.postal_code,
            city=city or organization.city,
            is_refresher=False,
            end_date=end,
            state=state,
            return_comment=comment,
            last_actor_id=(last_actor or creator).id,
        )
        if state == SessionState.CLOSED:
            # closed an hour ago: the scheduler builds its certificates on its first round
            cert_session.closed_at = utcnow() - timedelta(hours=1)
            cert_session.purge_after = self.today + timedelta(days=15)
            cert_session.success_count = sum(1 for t in trainees if t[3] is True)
        self.db.add(cert_session)
        self.db.flush()
        for position, (last, first, born, passed) in enumerate(trainees):
            self.db.add(
                Trainee(
                    cert_session_id=cert_session.id,
                    position=position,
                    last_name=last,
                    first_name=first,
                    birth_date=born,
                    passed=passed,
                )
            )
        self.db.flush()
        return cert_session

    # --- the demo ----------------------------------------------------------------------
    def build(self) -> None:
        t = self.today
        years = relativedelta(years=1)
        alsace, cramif = self.fund("ALSACE-MOSELLE"), self.fund("CRAMIF")

        admin = self.person("INR00001", "Hélène", "BERNARD", ADMIN_EMAIL, date(1975, 3, 2))
        self.grant(admin, Role.ADMINISTRATEUR)
        self.admin = admin
        instr_am = self.person(
            "CAM00001",
            "Thomas",
            "KLEIN",
            "instructeur@carsat-am.demo.forprev.fr",
            date(1980, 6, 14),
        )
        self.grant(instr_am, Role.INSTRUCTEUR, fund=alsace)
        instr_if = self.person(
            "CRF00001", "Nadia", "BENALI", "instructeur@cramif.demo.forprev.fr", date(1983, 11, 5)
        )
        self.grant(instr_if, Role.INSTRUCTEUR, fund=cramif)

        romain = self.person(
            "ROM37899",
            "Romain",
            "MARTIN",
            "romain.martin@demo.forprev.fr",
            date(1979, 4, 21),
            trainer_fund="ALSACE-MOSELLE",
        )
        karine = self.person(
            "KPA12345", "Karine", "PARIS", "karine.paris@demo.forprev.fr", date(1985, 9, 30)
        )
        stephane = self.person(
            "SDE24680", "Stéphane", "DELORME", "stephane.delorme@demo.forprev.fr", date(1990, 1, 12)
        )
        julie = self.person(
            "JDE11223", "Julie", "DEMANGE", "julie.demange@demo.forprev.fr", date(1992, 7, 8)
        )
        self.grant(julie, Role.DEMANDEUR)

        marose = self.organization(
            code="67001",
            kind=OrganizationKind.TRAINING,
            name="MAROSE FORMATION",
            siret="73282932000074",
            activity_number="42670123456",
            postal_code="67000",
            city="STRASBOURG",
            address="12 rue du Dôme",
            creator=romain,
        )
        # "Organismes habilités": MAROSE chose to be on the public list, with two contacts
        marose.public_listing = True
        marose.public_email = "contact@marose-formation.fr"
        marose.public_phone = "+33 3 88 12 34 56"
        guy = self.organization(
            code="75002",
            kind=OrganizationKind.COMPANY,
            name="FORMATION GUY",
            siret="55208131766522",
            postal_code="75011",
            city="PARIS",
            address="40 boulevard Voltaire",
            creator=karine,
        )
        atelier = self.organization(
            code=None,
            kind=OrganizationKind.TRAINING,
            name="ATELIER PRÉVENTION 68",
            siret="40483304800022",
            activity_number="42680000001",
            postal_code="68100",
            city="MULHOUSE",
            address="3 rue de la Sinne",
            creator=julie,
            status=OrganizationStatus.SUBMITTED,
        )
        demo_entity_requests(self.db, julie, atelier)

        for organization in (marose, guy):
            self.grant(romain, Role.GESTIONNAIRE, organization=organization)
        self.grant(romain, Role.FORMATEUR)
        self.grant(karine, Role.GESTIONNAIRE, organization=guy)
        self.grant(stephane, Role.DELEGATAIRE, organization=marose)

        # accreditations in every state
        sst1 = self.accreditation(marose, "SST", 1, start=t - 2 * years, end=t + 3 * years)
        sst2 = self.accreditation(marose, "SST", 2, start=t - 1 * years, end=t + 4 * years)
        catec = self.accreditation(marose, "CATEC", 1, start=t - 1 * years, end=t + 4 * years)
        self.db.add(
            Platform(
                accreditation_id=catec.id,
                name="Plateforme CATEC Strasbourg-Port",
                address="5 rue du Port du Rhin",
                postal_code="67100",
                city="STRASBOURG",
                cnh_approved_on=t - 1 * years,
            )
        )
        self.db.add(
            Platform(
                accreditation_id=catec.id,
                name="Plateforme CATEC Haguenau",
                address="18 route de Bitche",
                postal_code="67500",
                city="HAGUENAU",
                cnh_approved_on=t - 1 * years,
            )
        )
        self.db.add(Equipment(accreditation_id=catec.id, label="Détecteur 4 gaz", quantity=6))
        self.db.add(Equipment(accreditation_id=catec.id, label="Trépied et treuil", quantity=2))
        self.accreditation(
            marose,
            "PRAP-IBC",
            1,
            start=t - 5 * years + relativedelta(months=4),
            end=t + relativedelta(months=4),
        )
        self.accreditation(marose, "ALM", 1, start=t - 6 * years, end=t - relativedelta(months=2))
        suspended = self.accreditation(marose, "APS-ASD", 1, start=t - 2 * years, end=t + 3 * years)
        self.db.add(
            Suspension(
                accreditation_id=suspended.id,
                start_date=t - timedelta(days=20),
                end_date=t + timedelta(days=70),
                reason="Non-respect du cahier des charges (formateur non à jour)",
            )
        )
        guy_sst1 = self.accreditation(guy, "SST", 1, start=t - 1 * years, end=t + 4 * years)
        self.db.add(Delegation(person_id=stephane.id, accreditation_id=sst1.id))

        # accreditation requests in each phase, each with its documents and history; no
        # dispositif-level held or being requested is asked for twice (SPEC §5)
        def port(**owner):
            return Platform(
                name="Plateforme CATEC Strasbourg-Port",
                address="5 rue du Port du Rhin",
                postal_code="67100",
                city="STRASBOURG",
                **owner,
            )

        def haguenau(**owner):
            return Platform(
                name="Plateforme CATEC Haguenau",
                address="18 route de Bitche",
                postal_code="67500",
                city="HAGUENAU",
                **owner,
            )

        def on(day: date, days_before: int) -> datetime:
            return datetime.combine(day, time(9), tzinfo=UTC) - timedelta(days=days_before)

        # two accreditations came from requests decided by the CNH a year ago
        self.decided(
            sst2,
            self.request(
                marose,
                "SST",
                2,
                P.FAVOURABLE,
                romain,
                submitted=on(sst2.start_date, 12),
                instructor=instr_am,
            ),
        )
        self.decided(
            catec,
            self.request(
                marose,
                "CATEC",
                1,
                P.FAVOURABLE,
                romain,
                submitted=on(catec.start_date, 12),
                instructor=instr_am,
                platforms=(port(), haguenau()),
                equipment=(
                    Equipment(label="Détecteur 4 gaz", quantity=6),
                    Equipment(label="Trépied et treuil", quantity=2),
                ),
            ),
        )
        self.request(
            marose,
            "PRAP-IBC",
            2,
            P.UNFAVOURABLE,
            romain,
            submitted=on(t, 130),
            instructor=instr_am,
            decision_comment="Les déroulés pédagogiques ne prévoient aucune mise en situation "
            "pratique des futurs formateurs : le dossier ne répond pas au document de "
            "référence du dispositif.",
        )
        self.request(
            marose,
            "ECHAF",
            1,
            P.DRAFT,
            romain,
            requester_comment="La plateforme de Haguenau sert aussi aux formations CATEC.",
            platforms=(haguenau(),),
            kinds=("programme", "deroule"),
        )
        self.request(
            marose,
            "PRAP-2S",
            1,
            P.RETURNED,
            romain,
            instructor=instr_am,
            return_comment="Le déroulé pédagogique joint est celui du niveau 2 (formateur) : "
            "déposez celui du niveau 1 (acteur PRAP 2S) puis soumettez de nouveau.",
        )
        self.request(
            marose,
            "CATEC",
            2,
            P.FILE_COMPLETE,
            romain,
            submitted=on(t, 2),
            instructor=instr_am,
            requester_comment="Nos formateurs de formateurs interviendront sur la plateforme "
            "du port, déjà approuvée pour le niveau 1.",
            platforms=(port(),),
            equipment=(
                Equipment(label="Détecteur 4 gaz", quantity=8),
                Equipment(
                    label="Trépied et treuil",
                    quantity=3,
                    description="Vérifiés en janvier par un organisme agréé",
                ),
                Equipment(label="Appareil respiratoire isolant", quantity=4),
            ),
        )
        self.request(
            marose,
            "ECHAF",
            2,
            P.PHASE_1,
            romain,
            instructor=instr_am,
            mobile=True,
            equipment=(Equipment(label="Échafaudage de pied 3 niveaux", quantity=2),),
        )
        self.request(guy, "PRAP-IBC", 1, P.PHASE_2, karine, instructor=instr_if)
        self.request(guy, "ALM", 1, P.CNH, karine, submitted=on(t, 15), instructor=instr_if)

        # trainers: valid, expired, wrong dispositif, wrong level
        stephanie = self.person(
            "STE55501",
            "Stéphanie",
            "WEBER",
            "stephanie.weber@demo.forprev.fr",
            date(1982, 2, 17),
            trainer_fund="ALSACE-MOSELLE",
        )
        expired = self.person(
            "PAU55502",
            "Paul",
            "SCHMITT",
            "paul.schmitt@demo.forprev.fr",
            date(1970, 10, 3),
            trainer_fund="ALSACE-MOSELLE",
        )
        prap = self.person(
            "LEA55503",
            "Léa",
            "MULLER",
            "lea.muller@demo.forprev.fr",
            date(1988, 5, 25),
            trainer_fund="CRAMIF",
        )
        level3 = self.person(
            "MAR55504",
            "Marc",
            "HOFFMANN",
            "marc.hoffmann@demo.forprev.fr",
            date(1968, 12, 1),
            trainer_fund="CRAMIF",
        )
        for trainer in (stephanie, expired, prap, level3):
            self.grant(trainer, Role.FORMATEUR)
        self.certificate(romain, "SST", 2, t - 1 * years, marose)
        self.certificate(stephanie, "SST", 2, t - 6 * relativedelta(months=1), marose)
        self.certificate(expired, "SST", 2, t - 4 * years, marose)
        self.certificate(prap, "PRAP-IBC", 2, t - 1 * years, guy)
        self.certificate(level3, "SST", 3, t - 1 * years)
        # a qualification INRS gave outside Forprev, recorded by the administrator
        # without a document: it counts in the trainer check of PRAP IBC level-2 sessions
        self.db.add(
            Qualification(
                person_id=level3.id,
                certificate_model_id=self.db.exec(
                    select(CertificateModel.id).where(
                        CertificateModel.name == "Certificat de formateur de formateurs PRAP IBC"
                    )
                ).one(),
                valid_from=t - 2 * relativedelta(months=1),
                valid_until=t - 2 * relativedelta(months=1) + 3 * years,
                source="manuel",
                note="Qualification délivrée par l'INRS avant Forprev.",
                recorded_by_id=self.admin.id,
            )
        )
        self.db.flush()

        # certification sessions in every state
        people = [
            ("LAMBERT", "Régine", date(1977, 4, 6)),
            ("FISCHER", "Myriam", date(1978, 3, 15)),
            ("JUNG", "Pierre", date(1964, 2, 18)),
            ("ROTH", "Camille", date(1995, 8, 9)),
            ("MEYER", "Lucas", date(2000, 11, 23)),
        ]

        def trainees(results):
            return [(*people[i], result) for i, result in enumerate(results)]

        self.cert_session(
            marose,
            sst1,
            romain,
            trainer=None,
            state=SessionState.DRAFT,
            end=t + timedelta(days=20),
            trainees=trainees([None] * 2),
        )
        self.cert_session(
            marose,
            sst1,
            stephane,
            trainer=stephanie,
            state=SessionState.TRAINER,
            end=t - timedelta(days=2),
            trainees=trainees([None] * 4),
        )
        self.cert_session(
            marose,
            sst1,
            romain,
            trainer=stephanie,
            state=SessionState.ENTITY,
            end=t - timedelta(days=5),
            trainees=trainees([True, True, False, True]),
            last_actor=stephanie,
        )
        self.cert_session(
            marose,
            sst1,
            romain,
            trainer=stephanie,
            state=SessionState.ENTITY,
            end=t - timedelta(days=3),
            trainees=trainees([None] * 4),
            comment="La date de fin de session est le 12 et non le 10 : merci de corriger.",
            last_actor=stephanie,
        )
        closed = self.cert_session(
            marose,
            sst1,
            romain,
            trainer=stephanie,
            state=SessionState.CLOSED,
            end=t - timedelta(days=8),
            trainees=trainees([True, True, True, False, True]),
        )
        self.cert_session(
            guy,
            guy_sst1,
            karine,
            trainer=romain,
            state=SessionState.TRAINER,
            end=t - timedelta(days=1),
            trainees=trainees([None] * 5),
        )
        self.cert_session(
            guy,
            guy_sst1,
            karine,
            trainer=None,
            state=SessionState.DRAFT,
            end=t + timedelta(days=40),
            trainees=[],
        )
        self.closed_session = closed

        self.db.flush()


def demo_entity_requests(db: Session, requester: Person, submitted: Organization) -> None:
    """Julie's requests besides the one submitted to Carsat Alsace-Moselle: a draft and one
    the caisse sent back with a comment; each with an URSSAF attestation to open."""
    from app.domain.certificate_pdf import html_to_pdf
    from app.domain.storage import get_storage

    def attestation(name: str) -> int:
        html = (
            "<html><body><h1>Attestation de vigilance URSSAF</h1>"
            f"<p>{name} est à jour de ses obligations (document de démonstration).</p>"
            "</body></html>"
        )
        return (
            get_storage()
            .save(
                db,
                name="attestation-urssaf.pdf",
                content_type="application/pdf",
                data=html_to_pdf(html, "L'attestation de démonstration"),
            )
            .id
        )

    issued = datetime.combine(today() - timedelta(days=40), time(), tzinfo=UTC)
    department, fund = fund_for_postal_code(db, "67500")
    submitted.urssaf_file_id = attestation(submitted.name)
    submitted.urssaf_issued_on = issued
    db.add(submitted)
    db.add(
        Organization(
            kind=OrganizationKind.COMPANY,
            name="BOIS ET CHARPENTES DEMANGE",
            siret="44306184100047",
            address="8 rue du Sel",
            postal_code="67500",
            city="Haguenau",
            department_code=department.code,
            fund_id=fund.id,
            status=OrganizationStatus.DRAFT,
            created_by_id=requester.id,
        )
    )
    db.add(
        Organization(
            kind=OrganizationKind.COMPANY,
            name="TRANSPORTS DEMANGE",
            regime="Régime général",
            siret="38012986600030",
            urssaf_file_id=attestation("TRANSPORTS DEMANGE"),
            urssaf_issued_on=issued,
            address="22 route de Bischwiller",
            postal_code="67500",
            city="Haguenau",
            department_code=department.code,
            fund_id=fund.id,
            status=OrganizationStatus.RETURNED,
            signatory_last_name="DEMANGE",
            signatory_first_name="Julie",
            signatory_function="Gérante",
            created_by_id=requester.id,
            submitted_at=utcnow() - timedelta(days=6),
            returned_at=utcnow() - timedelta(days=2),
            return_comment="Le SIRET ne correspond pas à la raison sociale sur l'attestation "
            "URSSAF : vérifiez-le et joignez l'attestation de l'établissement de Haguenau.",
        )
    )
    db.flush()


def load_demo(db: Session) -> bool:
    """Load the demo once; False if it is already there."""
    load_reference(db)
    if db.exec(select(Person.id).where(Person.email == ADMIN_EMAIL)).first() is not None:
        return False
    _Demo(db).build()
    return True


# printed by the run command; a test logs in with each of them
DEMO_LOGINS = [
    ("Gestionnaire (2 entités) et Formateur", "romain.martin@demo.forprev.fr", "ROM37899"),
    ("Gestionnaire — FORMATION GUY", "karine.paris@demo.forprev.fr", "KPA12345"),
    ("Délégataire — MAROSE FORMATION", "stephane.delorme@demo.forprev.fr", "SDE24680"),
    ("Formateur (SST, qualification valide)", "stephanie.weber@demo.forprev.fr", "STE55501"),
    ("Instructeur — Carsat Alsace-Moselle", "instructeur@carsat-am.demo.forprev.fr", "CAM00001"),
    ("Instructeur — Cramif", "instructeur@cramif.demo.forprev.fr", "CRF00001"),
    ("Administrateur (INRS)", ADMIN_EMAIL, "INR00001"),
    ("Demandeur", "julie.demange@demo.forprev.fr", "JDE11223"),
]

# Marc HOFFMANN holds the SST level-3 certificate ("formateur de formateurs"): the trainer
# check accepts him for an SST level-2 session (MAROSE FORMATION is accredited for one).
DEMO_LOGINS.append(
    ("Formateur de formateurs (SST niveau 3)", "marc.hoffmann@demo.forprev.fr", "MAR55504")
)

# what each demo login is for, by Forprev number: "<role>, pour <this>" (printed by bin/run)
DEMO_LOGIN_USES = {
    "ROM37899": "déclarer les sessions des deux entités et générer les certificats, demander "
    "une habilitation ou renouveler la PRAP-IBC 1 de MAROSE FORMATION, ou saisir en formateur "
    "les résultats de la session SST de FORMATION GUY (« Changer » de rôle en haut)",
    "KPA12345": "voir une autre entité : ses sessions, ses habilitations, ses demandes",
    "SDE24680": "déclarer les sessions SST niveau 1 que MAROSE FORMATION lui a déléguées",
    "STE55501": "saisir les résultats de la session SST qui l'attend et la renvoyer à l'entité",
    "CAM00001": "instruire les demandes d'habilitation de MAROSE FORMATION, envoyer des "
    "messages, retrouver une personne de sa région dans « Personnes »",
    "CRF00001": "instruire les demandes d'habilitation de FORMATION GUY, envoyer des messages",
    "INR00001": "enregistrer la décision CNH des demandes d'habilitation (ALM 1 de FORMATION "
    "GUY), gérer le catalogue des dispositifs (dont la qualification exigée des formateurs), "
    "les personnes, les caisses et l'import des données existantes, envoyer des messages "
    "ciblés",
    "JDE11223": "suivre ses demandes d'entité dans « Mes demandes en cours » : ATELIER "
    "PRÉVENTION 68 envoyée à la Carsat Alsace-Moselle, TRANSPORTS DEMANGE renvoyée avec un "
    "commentaire à corriger, BOIS ET CHARPENTES DEMANGE en brouillon à compléter",
    "MAR55504": "animer une session SST niveau 2 de MAROSE FORMATION (son numéro passe la "
    "vérification du formateur) ; sa qualification PRAP IBC de formateur de formateurs, "
    "enregistrée par l'INRS sans document, est dans « Mes certificats »",
}

# Forprev numbers to type in the Formateur tab of a session to see the trainer check refuse:
# (number, dispositif, level of the session, why)
DEMO_TRAINER_REFUSALS = [
    ("PAU55502", "SST", 1, "son certificat SST niveau 2 a expiré"),
    ("LEA55503", "SST", 1, "elle détient un certificat Prap IBC, pas SST"),
    ("MAR55504", "SST", 1, "il détient le niveau 3, pas le niveau 2 requis"),
]
