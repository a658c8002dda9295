from wtforms import SelectField, StringField, TextAreaField

from app.domain.help_content import MODULES
from app.forms import Form

MARKDOWN_HINT = (
    "Mise en forme Markdown : ## Titre, **gras**, *italique*, listes avec « - », "
    "liens [texte](https://…) ou [texte](mailto:…). Le HTML est affiché tel quel."
)


class FaqForm(Form):
    module = SelectField(
        "Module",
        choices=[("", "— Choisissez un module —"), *MODULES.items()],
        validate_choice=False,  # the domain names a forged module in French
    )
    question = StringField("Question")
    answer = TextAreaField("Réponse", description=MARKDOWN_HINT)


class ManualForm(Form):
    title = StringField("Titre")
    body = TextAreaField(
        "Texte du manuel",
        description=MARKDOWN_HINT + " Les titres ## forment le sommaire.",
    )
