"""Forms of the certification-session screens. Field checks that need the database live
in app/domain/cert_session_rules.py; these only parse what was typed."""

from wtforms import (
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from app.blueprints.account.forms import FrenchDateField, id_or_none
from app.forms import Form


class VersionedForm(Form):
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class SessionTabForm(VersionedForm):
    accreditation_id = SelectField(
        "Dispositif et niveau",
        coerce=id_or_none,
        validate_choice=False,
        description="La liste dépend des habilitations valides de l'entité.",
    )
    certificate_model_id = SelectField(
        "Certificat à éditer", coerce=id_or_none, validate_choice=False
    )
    location = StringField(
        "Lieu de formation",
        validators=[Optional(), Length(max=200, message="200 caractères au plus.")],
        description="Par exemple : Salle de formation, 3 rue des Lilas.",
    )
    platform_id = SelectField(
        "Lieu de formation (plateforme pédagogique)",
        coerce=id_or_none,
        validate_choice=False,
        description="Ce dispositif exige une plateforme : seules les plateformes approuvées "
        "sur l'habilitation sont possibles. Son code postal et sa ville sont repris si vous "
        "les laissez vides.",
    )
    postal_code = StringField("Code postal", description="5 chiffres, par exemple 67000.")
    city = StringField("Ville")
    is_refresher = RadioField(
        "Type de stage",
        choices=[
            ("initial", "Stage initial"),
            ("mac", "Stage de mise à jour des compétences (MAC)"),
        ],
        validators=[Optional()],
        validate_choice=False,
    )
    end_date = FrenchDateField(
        "Date de fin de session",
        description="Format jj/mm/aaaa. Elle marque le début de validité des certificats.",
    )


class TrainerForm(VersionedForm):
    forprev_number = StringField("Numéro Forprev", description="Par exemple STE55501.")
    last_name = StringField("Nom")
    first_name = StringField("Prénom")
    birth_date = FrenchDateField("Date de naissance", description="Format jj/mm/aaaa.")


class TraineeForm(VersionedForm):
    forprev_number = StringField(
        "Numéro Forprev (si la personne en a un)",
        description="« Pré-remplir » reprend son identité depuis son compte.",
    )
    last_name = StringField("Nom")
    first_name = StringField("Prénom")
    birth_date = FrenchDateField("Date de naissance", description="Format jj/mm/aaaa.")
    email = StringField("Adresse e-mail")


class PasteForm(VersionedForm):
    block = TextAreaField(
        "Coller une liste de stagiaires",
        description="Une ligne par stagiaire : nom;prénom;date de naissance;e-mail "
        "(l'e-mail est demandé pour les niveaux 2 et 3). Par exemple : "
        "MARTIN;Julie;14/07/1990",
        validators=[Length(max=100_000, message="La liste est trop longue.")],
    )


class ReturnForm(VersionedForm):
    comment = TextAreaField("Mon commentaire")


class ActionForm(VersionedForm):
    pass


def session_tab_choices(form: SessionTabForm, choices, models, platforms) -> None:
    form.accreditation_id.choices = [("", "— Choisissez un dispositif et un niveau —")] + [
        (
            str(c.accreditation_id),
            f"{c.label} — {c.scheme_name}"
            + (f" (habilitation valide jusqu'au {c.ends_on:%d/%m/%Y})" if c.ends_on else ""),
        )
        for c in choices
    ]
    form.certificate_model_id.choices = [("", "— Choisissez le certificat à éditer —")] + [
        (str(m.id), f"{m.name} ({m.validity_months} mois)") for m in models
    ]
    form.platform_id.choices = [("", "— Choisissez une plateforme déclarée —")] + [
        (str(p.id), f"{p.name} — {p.postal_code} {p.city}") for p in platforms
    ]
