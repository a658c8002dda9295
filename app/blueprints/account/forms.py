"""Account forms. Every message is French and says what to do."""

import re
from datetime import datetime

from wtforms import BooleanField, DateField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, StopValidation, ValidationError
from wtforms.widgets import TextInput

from app.domain.passwords import password_problem
from app.forms import Form
from app.ids import parse_id

NAME = re.compile(r"[^\W\d_]+(?:[ '’-][^\W\d_]+)*")
MIN_YEAR, MAX_YEAR = 1900, 2999


def id_or_none(value):
    """Coerce a chosen id: None when nothing is chosen, -1 (never a real id: the rule
    says it is not allowed) for anything that is not a possible id."""
    if value in (None, "", "None"):
        return None
    number = parse_id(value)
    return -1 if number is None else number


class FrenchDateField(DateField):
    """A date typed as 14/07/1990 (or 1990-07-14). A text input, not the browser's date
    picker: its format follows the browser's language, not the hint we show."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=["%d/%m/%Y", "%Y-%m-%d"], **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        raw = valuelist[0].strip()
        for fmt in self.format:
            try:
                day = datetime.strptime(raw, fmt).date()
            except ValueError:
                continue
            # any other year is a typo (and year 1 overflowed a datetime in Paris time)
            if MIN_YEAR <= day.year <= MAX_YEAR:
                self.data = day
                return
        self.data = None
        raise ValueError("Saisissez une date valide, par exemple 14/07/1990.")


class DateRequired:
    """Required, with its own message; a date that could not be read keeps that message."""

    field_flags = {"required": True}

    def __init__(self, message: str):
        self.message = message

    def __call__(self, form, field):
        if field.data is None:
            if field.process_errors:
                raise StopValidation()
            raise StopValidation(self.message)


def strong_password(form, field):
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def person_name(label: str):
    def check(form, field):
        value = (field.data or "").strip()
        if value and not NAME.fullmatch(value):
            raise ValidationError(
                f"Le {label} ne peut contenir que des lettres, des espaces, "
                "des traits d'union et des apostrophes."
            )

    return check


def email_field(label: str = "Adresse e-mail", **kwargs):
    return EmailField(
        label,
        validators=[
            DataRequired("Saisissez une adresse e-mail."),
            Length(max=254, message="L'adresse e-mail est trop longue (254 caractères au plus)."),
            Email("Saisissez une adresse e-mail valide, par exemple marie.dupont@exemple.fr."),
        ],
        **kwargs,
    )


def new_password_fields():
    password = PasswordField(
        "Nouveau mot de passe",
        validators=[DataRequired("Saisissez un mot de passe."), strong_password],
    )
    confirm = PasswordField(
        "Confirmez le mot de passe",
        validators=[
            DataRequired("Saisissez le mot de passe une seconde fois."),
            EqualTo("password", "Les deux mots de passe ne sont pas identiques."),
        ],
    )
    return password, confirm


class ForgotPasswordForm(Form):
    identifier = StringField(
        "E-mail ou numéro Forprev",
        validators=[
            DataRequired("Saisissez votre e-mail ou votre numéro Forprev."),
            Length(max=254, message="Cet identifiant est trop long."),
        ],
        description="Par exemple marie.dupont@exemple.fr ou JKA37899",
    )


class SetPasswordForm(Form):
    password, confirm = new_password_fields()


class SignupForm(Form):
    last_name = StringField(
        "Nom",
        validators=[
            DataRequired("Saisissez votre nom."),
            Length(max=100, message="Le nom ne doit pas dépasser 100 caractères."),
            person_name("nom"),
        ],
    )
    first_name = StringField(
        "Prénom",
        validators=[
            DataRequired("Saisissez votre prénom."),
            Length(max=100, message="Le prénom ne doit pas dépasser 100 caractères."),
            person_name("prénom"),
        ],
    )
    birth_date = FrenchDateField(
        "Date de naissance",
        validators=[DateRequired("Saisissez votre date de naissance.")],
        description="Format jj/mm/aaaa, par exemple 14/07/1990",
    )
    email = email_field(description="Le lien pour finaliser votre compte y sera envoyé.")
    consent = BooleanField(
        "J'accepte les conditions d'utilisation des données personnelles",
        validators=[DataRequired("Acceptez les conditions d'utilisation pour créer votre compte.")],
    )
    robot = StringField(
        "Question anti-robot",
        validators=[DataRequired("Répondez à la question, en chiffres.")],
    )


class PreferencesForm(Form):
    notify_alerts = BooleanField(
        "Alertes",
        description="Rappels d'échéance : fin d'une habilitation, fin de validité d'un certificat.",
    )
    notify_notifications = BooleanField(
        "Notifications", description="L'arrivée d'une nouvelle tâche à effectuer."
    )
    notify_messages = BooleanField(
        "Messages ciblés",
        description="Messages du réseau prévention destinés à des utilisateurs choisis "
        "selon leur rôle (par exemple les formateurs SST d'une région).",
    )
    fund_id = SelectField(
        "Caisse de rattachement",
        coerce=id_or_none,
        validate_choice=False,  # the rule checks the caisse exists
        description="Obligatoire pour les formateurs, modifiable à tout moment.",
    )


class ChangePasswordForm(Form):
    current_password = PasswordField(
        "Mot de passe actuel",
        validators=[DataRequired("Saisissez votre mot de passe actuel.")],
    )
    password, confirm = new_password_fields()


class ChangeEmailForm(Form):
    email = email_field("Nouvelle adresse e-mail")
    current_password = PasswordField(
        "Mot de passe actuel",
        validators=[DataRequired("Saisissez votre mot de passe actuel.")],
        description="Pour confirmer que c'est bien vous.",
    )


class ConfirmForm(Form):
    pass
