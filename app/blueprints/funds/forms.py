"""Forms of "Caisses": a new instructor or administrator, a department's new caisse.
What may be chosen is decided by app/domain/funds_admin.py."""

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.blueprints.account.forms import email_field, id_or_none, person_name
from app.forms import Form


class AccountForm(Form):
    last_name = StringField(
        "Nom",
        validators=[
            DataRequired("Saisissez le nom."),
            Length(max=100, message="Le nom ne doit pas dépasser 100 caractères."),
            person_name("nom"),
        ],
    )
    first_name = StringField(
        "Prénom",
        validators=[
            DataRequired("Saisissez le prénom."),
            Length(max=100, message="Le prénom ne doit pas dépasser 100 caractères."),
            person_name("prénom"),
        ],
    )
    email = email_field(
        description="Une personne déjà inscrite sur Forprev avec cette adresse garde son "
        "compte et reçoit le rôle ; une nouvelle reçoit le lien pour choisir son mot de "
        "passe, valable 72 heures."
    )


class AdministratorForm(AccountForm):
    email = email_field(
        description="La personne reçoit à cette adresse le lien pour choisir son mot de "
        "passe, valable 72 heures. L'adresse ne doit pas déjà servir à un compte Forprev."
    )


class MoveForm(Form):
    department = SelectField(
        "Département",
        validate_choice=False,
        validators=[DataRequired("Choisissez un département de cette caisse.")],
    )
    to_fund_id = SelectField(
        "Nouvelle caisse",
        coerce=id_or_none,
        validate_choice=False,
        validators=[DataRequired("Choisissez la caisse qui reprendra le département.")],
    )
    # "oui" once the summary of the change was shown and confirmed
    confirm = HiddenField()


class ActionForm(Form):
    pass
