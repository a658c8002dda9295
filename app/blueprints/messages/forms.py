from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from app.blueprints.account.forms import FrenchDateField, id_or_none
from app.forms import Form


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class MessageForm(Form):
    title = StringField("Titre")
    body = TextAreaField("Message")
    roles = CheckboxesField(
        "Destinataires",
        choices=[
            ("gestionnaire", "Gestionnaires d'entités"),
            ("delegataire", "Délégataires"),
            ("formateur", "Formateurs"),
            ("instructeur", "Instructeurs"),
        ],
        validate_choice=False,
    )
    scheme_id = SelectField("Dispositif", coerce=id_or_none, validate_choice=False)
    level = SelectField(
        "Niveau",
        choices=[("", "Tous les niveaux"), ("1", "Niveau 1"), ("2", "Niveau 2"), ("3", "Niveau 3")],
        coerce=id_or_none,
        validate_choice=False,
        description="Pour les formateurs : ceux qui peuvent animer ce niveau.",
    )
    fund_id = SelectField("Région (caisse)", coerce=id_or_none, validate_choice=False)
    display_from = FrenchDateField("Afficher à partir du", description="Format jj/mm/aaaa.")
    display_until = FrenchDateField(
        "Afficher jusqu'au", description="Facultatif. Format jj/mm/aaaa."
    )
