from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired


class LoginForm(FlaskForm):
    identifier = StringField(
        "E-mail ou numéro Forprev",
        validators=[DataRequired("Saisissez votre e-mail ou votre numéro Forprev.")],
        description="Par exemple marie.dupont@exemple.fr ou JKA37899",
    )
    password = PasswordField(
        "Mot de passe", validators=[DataRequired("Saisissez votre mot de passe.")]
    )


class RoleSwitchForm(FlaskForm):
    grant_id = HiddenField()


class LogoutForm(FlaskForm):
    pass
