from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired

from app.forms import Form


class LoginForm(Form):
    identifier = StringField(
        "E-mail ou numéro Forprev",
        validators=[DataRequired("Saisissez votre e-mail ou votre numéro Forprev.")],
        description="Par exemple marie.dupont@exemple.fr ou JKA37899",
    )
    password = PasswordField(
        "Mot de passe", validators=[DataRequired("Saisissez votre mot de passe.")]
    )


class RoleSwitchForm(Form):
    grant_id = HiddenField()


class LogoutForm(Form):
    pass
