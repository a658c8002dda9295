"""Reference data of REFERENCE.md §1–§3 and the help content (seeds/help_content.py),
loaded idempotently (`flask seed reference`, run at every start by bin/run).

Running it again adds what is missing and changes nothing that exists: the catalogue and
the caisses' routing belong to the administrators from the first day (back office), so
neither a restart nor a new release puts a default back over their edits.
"""

from sqlmodel import Session, select

from app.models import (
    CertificateModel,
    Department,
    DocumentRequirement,
    Fund,
    LevelQualification,
    Scheme,
    SchemeLevel,
)
from seeds.help_content import load_help_content

FUNDS = [
    ("ALSACE-MOSELLE", "Carsat Alsace-Moselle", "57 67 68"),
    ("AQUITAINE", "Carsat Aquitaine", "24 33 40 47 64"),
    ("AUVERGNE", "Carsat Auvergne", "03 15 43 63"),
    ("BFC", "Carsat Bourgogne-Franche-Comté", "21 25 39 58 70 71 89 90"),
    ("BRETAGNE", "Carsat Bretagne", "22 29 35 56"),
    ("CENTRE-VAL-DE-LOIRE", "Carsat Centre-Val de Loire", "18 28 36 37 41 45"),
    ("CENTRE-OUEST", "Carsat Centre-Ouest", "16 17 19 23 79 86 87"),
    ("HAUTS-DE-FRANCE", "Carsat Hauts-de-France", "02 59 60 62 80"),
    ("LANGUEDOC-ROUSSILLON", "Carsat Languedoc-Roussillon", "11 30 34 48 66"),
    ("MIDI-PYRENEES", "Carsat Midi-Pyrénées", "09 12 31 32 46 65 81 82"),
    ("NORMANDIE", "Carsat Normandie", "14 27 50 61 76"),
    ("NORD-EST", "Carsat Nord-Est", "08 10 51 52 54 55 88"),
    ("PAYS-DE-LA-LOIRE", "Carsat Pays de la Loire", "44 49 53 72 85"),
    ("RHONE-ALPES", "Carsat Rhône-Alpes", "01 07 26 38 42 69 73 74"),
    ("SUD-EST", "Carsat Sud-Est", "04 05 06 13 2A 2B 83 84"),
    ("CRAMIF", "Cramif (Île-de-France)", "75 77 78 91 92 93 94 95"),
    ("GUADELOUPE", "CGSS Guadeloupe", "971 977 978"),
    ("MARTINIQUE", "CGSS Martinique", "972"),
    ("GUYANE", "CGSS Guyane", "973"),
    ("REUNION", "CGSS La Réunion", "974"),
    ("MAYOTTE", "CSS Mayotte", "976"),
]

# code, name, levels, technical requirements
SCHEMES = [
    ("SST", "Sauvetage secourisme du travail", (1, 2, 3), False),
    (
        "PRAP-IBC",
        "Prévention des risques liés à l'activité physique — industrie, BTP, commerce",
        (1, 2, 3),
        False,
    ),
    (
        "PRAP-2S",
        "Prévention des risques liés à l'activité physique — sanitaire et social",
        (1, 2, 3),
        False,
    ),
    ("ALM", "Accompagnement de la mobilité de la personne aidée", (1, 2), False),
    ("APS-ASD", "Acteur prévention secours — aide et soin à domicile", (1, 2, 3), False),
    ("CATEC", "Travail en espaces confinés — assainissement", (1, 2), True),
    ("ECHAF", "Montage et utilisation des échafaudages", (1, 2), True),
    ("AMIANTE-SS4", "Amiante sous-section 4 — formateurs", (2,), False),
]

# (scheme, level): session rules differing from the default of 1 to 15 trainees
LEVEL_RULES = {
    ("SST", 1): {
        "min_trainees": 4,
        "max_trainees": 14,
        "warn_above": 10,
        "initial_hours": 14,
        "mac_hours": 7,
        "programme_required": False,
    },
    ("SST", 2): {"min_trainees": 5, "max_trainees": 10},
}

CERTIFICATE_MODELS = [
    ("SST", 1, "Certificat de sauveteur secouriste du travail", 24),
    ("SST", 2, "Certificat de formateur SST", 36),
    ("SST", 3, "Certificat de formateur de formateurs SST", 36),
    ("PRAP-IBC", 1, "Certificat d'acteur PRAP IBC", 24),
    ("PRAP-IBC", 2, "Certificat de formateur PRAP IBC", 36),
    ("PRAP-2S", 1, "Certificat d'acteur PRAP 2S", 24),
    ("PRAP-2S", 2, "Certificat de formateur PRAP 2S", 36),
    ("ALM", 1, "Certificat d'acteur ALM", 24),
    ("ALM", 2, "Certificat de formateur ALM", 36),
    ("APS-ASD", 1, "Certificat d'acteur prévention secours ASD", 24),
    ("APS-ASD", 2, "Certificat de formateur APS-ASD", 36),
    ("CATEC", 1, "Certificat CATEC — intervenant", 36),
    ("CATEC", 1, "Certificat CATEC — surveillant", 36),
    ("CATEC", 2, "Certificat de formateur CATEC", 36),
    ("ECHAF", 1, "Certificat de monteur d'échafaudage", 60),
    ("ECHAF", 2, "Certificat de formateur échafaudage", 36),
    ("AMIANTE-SS4", 2, "Certificat de formateur amiante SS4", 36),
]

# REFERENCE §2: the "formateur de formateurs" qualification of each dispositif other than
# SST, given by INRS outside Forprev's sessions and recorded by an administrator; kept on
# the dispositif's top level, never offered as a session's certificate
INRS_MODELS = [
    ("PRAP-IBC", "Certificat de formateur de formateurs PRAP IBC", 36),
    ("PRAP-2S", "Certificat de formateur de formateurs PRAP 2S", 36),
    ("ALM", "Certificat de formateur de formateurs ALM", 36),
    ("APS-ASD", "Certificat de formateur de formateurs APS-ASD", 36),
    ("CATEC", "Certificat de formateur de formateurs CATEC", 36),
    ("ECHAF", "Certificat de formateur de formateurs échafaudage", 36),
    ("AMIANTE-SS4", "Certificat de formateur de formateurs amiante SS4", 36),
]


def default_qualifications(code: str, level: int) -> list[str]:
    """REFERENCE §2: the certificate models qualifying a trainer for a session of this
    dispositif-level — the level-2 "formateur" certificate for level 1, the "formateur de
    formateurs" one above (SST-3 for SST, INRS's model for the others)."""
    if level == 1:
        return [name for c, lv, name, _m in CERTIFICATE_MODELS if (c, lv) == (code, 2)]
    if code == "SST":
        return [name for c, lv, name, _m in CERTIFICATE_MODELS if (c, lv) == ("SST", 3)]
    return [name for c, name, _m in INRS_MODELS if c == code]


def _upsert(db: Session, model, where: dict, values: dict):
    """The row found by its natural key, or a new one with the default values: a row that
    exists is left as the administrators keep it."""
    row = db.exec(select(model).filter_by(**where)).first()
    if row is None:
        row = model(**where, **values)
        db.add(row)
        db.flush()
    return row


def document_requirements(scheme_level: SchemeLevel, technical: bool) -> list[tuple]:
    """The documents an accreditation request of this dispositif-level asks for (SPEC §5):
    (kind, label, help, tab, required, several files)."""
    pedagogical = scheme_level.programme_required
    rows = [
        (
            "engagement",
            "Lettre d'engagement signée",
            "La lettre d'engagement générée, signée par le signataire de l'entité.",
            "pedagogique",
            True,
            False,
        ),
        ("programme", "Programmes de formation", None, "pedagogique", pedagogical, True),
        ("deroule", "Déroulés pédagogiques", None, "pedagogique", pedagogical, True),
    ]
    if technical:
        rows += [
            (
                "materiel",
                "Acquisition, utilisation et entretien du matériel",
                None,
                "technique",
                True,
                True,
            ),
            ("recap_materiel", "Tableau récapitulatif du matériel", None, "technique", True, False),
            ("dossier_technique", "Pièces du dossier technique", None, "technique", True, True),
            (
                "complementaire",
                "Documents complémentaires",
                "Les documents se rapportant aux plateformes déclarées.",
                "technique",
                False,
                True,
            ),
        ]
    return rows


def load_reference(db: Session) -> dict:
    """Insert the reference rows that are missing; returns counts for the CLI to print.
    The catalogue is written once, into an empty database: from then on it is the
    administrators' (a renamed certificate or an emptied qualification list would come
    back if it were matched by name at every start); migrations bring what a new version
    adds to a catalogue already there (0009: INRS's models and the qualifications)."""
    for code, name, departments in FUNDS:
        fund = _upsert(db, Fund, {"code": code}, {"name": name})
        for department in departments.split():
            _upsert(db, Department, {"code": department}, {"fund_id": fund.id})
    if db.exec(select(Scheme.id).limit(1)).first() is None:
        _load_catalogue(db)
    help_added = load_help_content(db)
    return {
        "caisses": len(FUNDS),
        "dispositifs": len(SCHEMES),
        "certificats": len(CERTIFICATE_MODELS) + len(INRS_MODELS),
        "questions de FAQ ajoutées": help_added["questions"],
        "manuels ajoutés": help_added["manuels"],
    }


def _load_catalogue(db: Session) -> None:
    levels = {}
    for code, name, scheme_levels, technical in SCHEMES:
        scheme = _upsert(
            db, Scheme, {"code": code}, {"name": name, "technical_requirements": technical}
        )
        for level in scheme_levels:
            rules = {
                "min_trainees": 1,
                "max_trainees": 15,
                "warn_above": None,
                "programme_required": True,
                "inrs_only": level == 3,
            }
            rules.update(LEVEL_RULES.get((code, level), {}))
            levels[(code, level)] = _upsert(
                db, SchemeLevel, {"scheme_id": scheme.id, "level": level}, rules
            )
    for (code, _level), scheme_level in levels.items():
        technical = next(t for c, _n, _l, t in SCHEMES if c == code)
        for position, (kind, label, help_text, tab, required, multiple) in enumerate(
            document_requirements(scheme_level, technical)
        ):
            _upsert(
                db,
                DocumentRequirement,
                {"scheme_level_id": scheme_level.id, "kind": kind},
                {
                    "label": label,
                    "help_text": help_text,
                    "tab": tab,
                    "required": required,
                    "multiple": multiple,
                    "position": position,
                },
            )
    models = {}
    for code, level, name, months in CERTIFICATE_MODELS:
        models[name] = _upsert(
            db,
            CertificateModel,
            {"scheme_level_id": levels[(code, level)].id, "name": name},
            {"validity_months": months},
        )
    for code, name, months in INRS_MODELS:
        top = max(lv for c, lv in levels if c == code)
        models[name] = _upsert(
            db,
            CertificateModel,
            {"scheme_level_id": levels[(code, top)].id, "name": name},
            {"validity_months": months, "issued_in_sessions": False},
        )
    for (code, level), scheme_level in levels.items():
        for name in default_qualifications(code, level):
            db.add(
                LevelQualification(
                    scheme_level_id=scheme_level.id, certificate_model_id=models[name].id
                )
            )
    db.flush()
