"""Accounts (SPEC §3): forgotten password and links, applicant sign-up, first login,
"Mon compte", throttling, login sessions."""

import html as html_lib
import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from app import create_app
from app.clock import frozen, utcnow
from app.domain.passwords import COMMON_PASSWORD as COMMON
from app.domain.passwords import password_problem
from app.models import AccountToken, OutboxEmail, Person, RoleGrant
from app.models.people import Role
from tests import factories
from tests.conftest import AuthActions, csrf_token, run_flask

NEW_PASSWORD = "Nouveau-mdp-2026"
WORDS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]


def _mails(db, to: str | None = None) -> list[OutboxEmail]:
    db.expire_all()
    query = select(OutboxEmail).order_by(OutboxEmail.id)
    if to:
        query = query.where(OutboxEmail.to_address == to)
    return list(db.exec(query).all())


def _link(mail: OutboxEmail, pattern=r"(/mot-de-passe/nouveau/[A-Za-z0-9_-]+)") -> str:
    return re.search(pattern, mail.text_body).group(1)


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _field_error(response, field_id: str) -> str | None:
    match = re.search(
        rf'<p class="error" id="{field_id}-erreur" role="alert">([^<]+)</p>', _text(response)
    )
    return match.group(1) if match else None


def _post(client, path, data, token_path=None):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_path or path)})


# --- the password rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    "password, message",
    [
        (
            "",
            "Le mot de passe doit contenir au moins 8 caractères, une lettre minuscule, une "
            "lettre majuscule, un chiffre et un caractère spécial (par exemple ! ? - _ @).",
        ),
        ("Ab1-", "Le mot de passe doit contenir au moins 8 caractères."),
        ("abcdefg1-", "Le mot de passe doit contenir une lettre majuscule."),
        ("ABCDEFG1-", "Le mot de passe doit contenir une lettre minuscule."),
        ("Abcdefgh-", "Le mot de passe doit contenir un chiffre."),
        (
            "Abcdefgh1",
            "Le mot de passe doit contenir un caractère spécial (par exemple ! ? - _ @).",
        ),
        (
            "Abcdefg h1",
            "Le mot de passe doit contenir un caractère spécial (par exemple ! ? - _ @).",
        ),
        ("Ab1-" + "x" * 200, "Le mot de passe ne doit pas dépasser 200 caractères."),
        ("Abcdefgh1-", None),
        ("Éléphant9€", None),
        # the most common passwords, however written
        ("Abcdefg1-", COMMON),
        ("Password1!", COMMON),
        ("P@ssw0rd2024", COMMON),
        ("Azerty123!", COMMON),
        ("!Qwerty123", COMMON),
        ("Soleil2026!", COMMON),
        ("Tr0ub4dor&3", None),
        ("Soleil-Prairie-26", None),
    ],
)
def test_password_rule(password, message):
    assert password_problem(password) == message


def test_live_rules_say_when_the_password_is_a_common_one(client):
    token = csrf_token(client, "/mot-de-passe-oublie")

    def checklist(password):
        return _text(
            client.post(
                "/mot-de-passe/regles?champ=password",
                data={"password": password},
                headers={"HX-Request": "true", "X-CSRFToken": token},
            )
        )

    assert re.search(
        r'class="rule-missing"><span[^>]*>Manquant :</span> ' + COMMON[:40], checklist("Azerty123!")
    )
    assert "plus courants" not in checklist("Soleil-Prairie-26")


def test_live_rules_answer_with_the_checklist(client):
    token = csrf_token(client, "/mot-de-passe-oublie")
    response = client.post(
        "/mot-de-passe/regles?champ=password",
        data={"password": "abcdefgh"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    html = _text(response)
    assert response.status_code == 200 and "<html" not in html
    assert '<div class="password-rules" id="password-regles" aria-live="polite">' in html
    assert re.search(
        r'class="rule-ok"><span class="visually-hidden">Respecté :</span> au moins 8', html
    )
    assert re.search(
        r'class="rule-missing"><span[^>]*>Manquant :</span> une lettre majuscule', html
    )
    assert re.search(r'class="rule-ok"><span[^>]*>Respecté :</span> une lettre minuscule', html)


def test_live_rules_need_the_csrf_token(client):
    response = client.post("/mot-de-passe/regles?champ=password", data={"password": "x"})
    assert response.status_code == 400


# --- forgotten password ----------------------------------------------------------------


def test_forgotten_password_answers_the_same_whether_or_not_the_account_exists(client, db):
    someone = factories.person(db, email="karine@exemple.fr", forprev_number="KAR12345")
    db.commit()
    unknown = _post(client, "/mot-de-passe-oublie", {"identifier": "personne@exemple.fr"})
    known = _post(client, "/mot-de-passe-oublie", {"identifier": "kar12345"})
    assert unknown.status_code == known.status_code == 200
    assert unknown.get_data() == known.get_data()
    assert "Si un compte correspond à cet identifiant" in _text(known)
    mails = _mails(db)
    assert [m.to_address for m in mails] == [someone.email]
    assert mails[0].subject == "Forprev : définir votre mot de passe"
    assert "valable 72 heures" in mails[0].text_body and "KAR12345" in mails[0].text_body
    assert "/mot-de-passe/nouveau/" in mails[0].html_body


def test_forgotten_password_empty_identifier(client):
    response = _post(client, "/mot-de-passe-oublie", {"identifier": "  "})
    assert response.status_code == 422
    assert _field_error(response, "identifier") == "Saisissez votre e-mail ou votre numéro Forprev."


def _request_link(client, db, identifier) -> str:
    _post(client, "/mot-de-passe-oublie", {"identifier": identifier})
    return _link(_mails(db)[-1])


def test_link_sets_the_password_once_and_logs_in(client, db, auth):
    someone = factories.person(db, email="karine@exemple.fr")
    factories.grant(db, someone, Role.FORMATEUR)
    db.commit()
    link = _request_link(client, db, "karine@exemple.fr")
    assert "Définir votre mot de passe" in _text(client.get(link))
    response = _post(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.location == "/"
    assert "Tableau de bord" in _text(client.get("/"))
    auth.logout()
    assert auth.login("karine@exemple.fr", factories.PASSWORD).status_code == 422
    assert auth.login("karine@exemple.fr", NEW_PASSWORD).status_code == 302
    # used once: the same link is refused
    auth.logout()
    again = client.get(link)
    assert again.status_code == 410
    assert "Ce lien n'est plus valable" in _text(again)
    db.refresh(someone)
    assert someone.auth_version == 2


def test_a_newer_link_replaces_the_older_one(client, db):
    factories.person(db, email="karine@exemple.fr")
    db.commit()
    older = _request_link(client, db, "karine@exemple.fr")
    newer = _request_link(client, db, "karine@exemple.fr")
    assert client.get(older).status_code == 410
    assert client.get(newer).status_code == 200


def test_links_expire_after_72_hours(client, db):
    factories.person(db, email="karine@exemple.fr")
    db.commit()
    start = utcnow()
    with frozen(start):
        link = _request_link(client, db, "karine@exemple.fr")
    with frozen(start + timedelta(hours=71, minutes=59)):
        assert client.get(link).status_code == 200
    with frozen(start + timedelta(hours=72, seconds=1)):
        assert client.get(link).status_code == 410
        response = _post(
            client,
            link,
            {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            token_path="/mot-de-passe-oublie",
        )
        assert response.status_code == 410


def test_tokens_are_stored_hashed(client, db):
    factories.person(db, email="karine@exemple.fr")
    db.commit()
    link = _request_link(client, db, "karine@exemple.fr")
    raw = link.rsplit("/", 1)[1]
    stored = db.exec(select(AccountToken.token_hash)).all()
    assert len(stored) == 1 and raw not in stored[0] and len(stored[0]) == 64


@pytest.mark.parametrize(
    "password, confirm, field, message",
    [
        ("", "", "password", "Saisissez un mot de passe."),
        ("court1-A", "", "confirm", "Saisissez le mot de passe une seconde fois."),
        (
            "abcdefgh1-",
            "abcdefgh1-",
            "password",
            "Le mot de passe doit contenir une lettre majuscule.",
        ),
        (
            NEW_PASSWORD,
            NEW_PASSWORD + "x",
            "confirm",
            "Les deux mots de passe ne sont pas identiques.",
        ),
    ],
)
def test_set_password_bad_input(client, db, password, confirm, field, message):
    factories.person(db, email="karine@exemple.fr")
    db.commit()
    link = _request_link(client, db, "karine@exemple.fr")
    response = _post(client, link, {"password": password, "confirm": confirm})
    assert response.status_code == 422
    assert _field_error(response, field) == message
    assert client.get(link).status_code == 200, "a refused attempt does not use the link up"


# --- applicant sign-up -----------------------------------------------------------------


def _signup_page(client):
    html = _text(client.get("/creer-un-compte"))
    a, b = re.search(r"Combien font (\S+) plus (\S+) \?", html).groups()
    return WORDS.index(a) + WORDS.index(b)


GOOD_SIGNUP = {
    "last_name": "Demange",
    "first_name": "Julie",
    "birth_date": "14/07/1990",
    "email": "Julie.Demange@exemple.fr",
    "consent": "y",
}


def _signup(client, **changes):
    answer = _signup_page(client)
    data = {**GOOD_SIGNUP, "robot": str(answer), **changes}
    data = {k: v for k, v in data.items() if v is not None}
    return _post(client, "/creer-un-compte", data, token_path="/connexion")


def test_signup_then_link_makes_a_usable_applicant_account(client, db, auth):
    response = _signup(client)
    assert response.status_code == 200
    assert "Un e-mail vient d'être envoyé à l'adresse indiquée" in _text(response)
    person = db.exec(select(Person).where(Person.email == "julie.demange@exemple.fr")).one()
    assert (person.last_name, person.first_name, person.birth_date) == (
        "DEMANGE",
        "Julie",
        date(1990, 7, 14),
    )
    assert not person.active and person.password_hash is None
    assert re.fullmatch(r"[A-Z]{3}\d{5}", person.forprev_number)
    roles = db.exec(select(RoleGrant.role).where(RoleGrant.person_id == person.id)).all()
    assert roles == [Role.DEMANDEUR]
    mail = _mails(db, "julie.demange@exemple.fr")[-1]
    assert mail.subject == "Forprev : finalisez la création de votre compte"

    link = _link(mail)
    response = _post(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    # first login: the choices come before anything else
    assert client.get("/").location == "/premiere-connexion"
    db.refresh(person)
    assert person.active


def test_signup_with_a_known_address_answers_the_same_and_mails_that_address(client, db):
    known = factories.person(db, email="julie.demange@exemple.fr", forprev_number="JDE11223")
    db.commit()
    fresh = _signup(client, email="autre@exemple.fr")
    again = _signup(client)
    assert fresh.status_code == again.status_code == 200
    assert "Un e-mail vient d'être envoyé" in _text(again)
    assert db.exec(select(Person).where(Person.email == known.email)).one().id == known.id
    mail = _mails(db, known.email)[-1]
    assert mail.subject == "Forprev : vous avez déjà un compte"
    assert "JDE11223" in mail.text_body and "/mot-de-passe/nouveau/" not in mail.text_body


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"last_name": ""}, "last_name", "Saisissez votre nom."),
        (
            {"last_name": "Dupont3"},
            "last_name",
            "Le nom ne peut contenir que des lettres, des espaces, des traits d'union et des apostrophes.",
        ),
        ({"last_name": "x" * 101}, "last_name", "Le nom ne doit pas dépasser 100 caractères."),
        ({"first_name": " "}, "first_name", "Saisissez votre prénom."),
        (
            {"first_name": "<script>"},
            "first_name",
            "Le prénom ne peut contenir que des lettres, des espaces, des traits d'union et des apostrophes.",
        ),
        ({"birth_date": ""}, "birth_date", "Saisissez votre date de naissance."),
        (
            {"birth_date": "31/02/1990"},
            "birth_date",
            "Saisissez une date valide, par exemple 14/07/1990.",
        ),
        (
            {"birth_date": "hier"},
            "birth_date",
            "Saisissez une date valide, par exemple 14/07/1990.",
        ),
        (
            {"birth_date": "01/01/2999"},
            "birth_date",
            "La date de naissance doit être dans le passé.",
        ),
        (
            {"birth_date": "01/01/1900"},
            "birth_date",
            "Vérifiez la date de naissance : l'âge doit être entre 16 et 100 ans.",
        ),
        (
            {"birth_date": "2020-01-01"},
            "birth_date",
            "Vérifiez la date de naissance : l'âge doit être entre 16 et 100 ans.",
        ),
        ({"email": ""}, "email", "Saisissez une adresse e-mail."),
        (
            {"email": "julie@"},
            "email",
            "Saisissez une adresse e-mail valide, par exemple marie.dupont@exemple.fr.",
        ),
        (
            {"consent": None},
            "consent",
            "Acceptez les conditions d'utilisation pour créer votre compte.",
        ),
        ({"robot": ""}, "robot", "Répondez à la question, en chiffres."),
        (
            {"robot": "99"},
            "robot",
            "Ce n'est pas la bonne réponse : répondez à la nouvelle question.",
        ),
    ],
)
def test_signup_bad_input_is_named_and_the_rest_kept(client, db, changes, field, message):
    response = _signup(client, **changes)
    assert response.status_code == 422
    assert _field_error(response, field) == message
    html = _text(response)
    for name, value in GOOD_SIGNUP.items():
        if name not in changes and name != "consent":
            assert f'value="{value}"' in html, name
    assert db.exec(select(Person)).all() == []
    assert _mails(db) == []


def test_terms_page_exists(client):
    html = _text(client.get("/conditions-d-utilisation"))
    assert "<h1>Conditions d'utilisation des données personnelles</h1>" in html
    assert "15 jours" in html


def test_login_page_offers_forgotten_password_and_signup(client):
    html = _text(client.get("/connexion"))
    assert '<a href="/mot-de-passe-oublie">Mot de passe oublié ?</a>' in html
    assert '<a href="/creer-un-compte">Création d\'un compte demandeur</a>' in html


# --- first login -----------------------------------------------------------------------


def test_first_login_asks_for_choices_before_anything_else(client, db, auth):
    newcomer = factories.person(db, email="new@exemple.fr", onboarded=False)
    factories.grant(db, newcomer, Role.GESTIONNAIRE, organization=factories.organization(db))
    db.commit()
    auth.login("new@exemple.fr")
    for path in ("/", "/entite/", "/mon-compte"):
        assert client.get(path).location == "/premiere-connexion", path
    page = _text(client.get("/premiere-connexion"))
    assert "Alertes" in page and "Messages ciblés" in page
    assert "Caisse de rattachement" not in page  # not a trainer
    token = csrf_token(client, "/premiere-connexion")
    response = client.post(
        "/premiere-connexion", data={"pref-notify_alerts": "y", "csrf_token": token}
    )
    assert response.location == "/"
    db.refresh(newcomer)
    assert (newcomer.notify_alerts, newcomer.notify_notifications, newcomer.notify_messages) == (
        True,
        False,
        False,
    )
    assert newcomer.onboarded_at is not None
    assert client.get("/").status_code == 200


def test_a_trainer_must_choose_a_caisse(client, db, auth):
    trainer = factories.person(db, email="formateur@exemple.fr", onboarded=False)
    factories.grant(db, trainer, Role.FORMATEUR)
    db.commit()
    auth.login("formateur@exemple.fr")
    token = csrf_token(client, "/premiere-connexion")
    response = client.post(
        "/premiere-connexion",
        data={"pref-notify_alerts": "y", "pref-fund_id": "", "csrf_token": token},
    )
    assert response.status_code == 422
    assert _field_error(response, "pref-fund_id") == "Choisissez votre caisse de rattachement."
    assert re.search(r'<input[^>]* checked id="pref-notify_alerts"', _text(response))
    cramif = factories.fund(db, "CRAMIF")
    response = client.post(
        "/premiere-connexion",
        data={"pref-fund_id": str(cramif.id), "csrf_token": token},
    )
    assert response.location == "/"
    db.refresh(trainer)
    assert trainer.trainer_fund_id == cramif.id


# --- Mon compte ------------------------------------------------------------------------


@pytest.fixture
def karine(db):
    person = factories.person(
        db,
        first_name="Karine",
        last_name="PARIS",
        email="karine@exemple.fr",
        forprev_number="KPA12345",
        birth_date=date(1975, 3, 2),
    )
    factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    return person


def test_my_account_shows_read_only_data(client, login_as, karine):
    html = _text(login_as(karine).get("/mon-compte"))
    for value in ("KPA12345", "PARIS", "Karine", "02/03/1975", "karine@exemple.fr"):
        assert f"<dd>{value}</dd>" in html
    assert 'name="last_name"' not in html and 'name="birth_date"' not in html
    assert "Caisse de rattachement" in html


def test_change_password_ends_other_sessions_only(app, client, login_as, karine, db):
    other = app.test_client()
    assert (
        other.post(
            "/connexion",
            data={
                "identifier": karine.email,
                "password": factories.PASSWORD,
                "csrf_token": csrf_token(other),
            },
        ).status_code
        == 302
    )
    login_as(karine)
    response = _post(
        client,
        "/mon-compte/mot-de-passe",
        {
            "pw-current_password": factories.PASSWORD,
            "pw-password": NEW_PASSWORD,
            "pw-confirm": NEW_PASSWORD,
        },
        token_path="/mon-compte",
    )
    assert response.status_code == 302
    assert "Votre mot de passe est modifié" in _text(client.get("/mon-compte"))
    assert other.get("/mon-compte").location.startswith("/connexion")
    assert _mails(db, karine.email)[-1].subject == "Forprev : votre mot de passe a été modifié"


@pytest.mark.parametrize(
    "data, field, message",
    [
        (
            {
                "pw-current_password": "faux",
                "pw-password": NEW_PASSWORD,
                "pw-confirm": NEW_PASSWORD,
            },
            "pw-current_password",
            "Le mot de passe actuel est incorrect.",
        ),
        (
            {"pw-current_password": "", "pw-password": NEW_PASSWORD, "pw-confirm": NEW_PASSWORD},
            "pw-current_password",
            "Saisissez votre mot de passe actuel.",
        ),
        (
            {
                "pw-current_password": factories.PASSWORD,
                "pw-password": "simple",
                "pw-confirm": "simple",
            },
            "pw-password",
            "Le mot de passe doit contenir au moins 8 caractères, une lettre majuscule, un chiffre et un caractère spécial (par exemple ! ? - _ @).",
        ),
        (
            {
                "pw-current_password": factories.PASSWORD,
                "pw-password": NEW_PASSWORD,
                "pw-confirm": "autre",
            },
            "pw-confirm",
            "Les deux mots de passe ne sont pas identiques.",
        ),
    ],
)
def test_change_password_bad_input(client, login_as, karine, db, data, field, message):
    login_as(karine)
    response = _post(client, "/mon-compte/mot-de-passe", data, token_path="/mon-compte")
    assert response.status_code == 422
    assert _field_error(response, field) == message
    db.refresh(karine)
    assert karine.auth_version == 1


def test_a_common_password_is_refused_with_its_reason(client, login_as, karine, db):
    login_as(karine)
    response = _post(
        client,
        "/mon-compte/mot-de-passe",
        {
            "pw-current_password": factories.PASSWORD,
            "pw-password": "Marseille13!",
            "pw-confirm": "Marseille13!",
        },
        token_path="/mon-compte",
    )
    assert response.status_code == 422
    assert _field_error(response, "pw-password") == COMMON
    db.refresh(karine)
    assert karine.auth_version == 1


def test_change_email_by_confirmed_link(client, login_as, karine, db):
    login_as(karine)
    response = _post(
        client,
        "/mon-compte/adresse",
        {"mail-email": "Karine.Nouvelle@exemple.fr", "mail-current_password": factories.PASSWORD},
        token_path="/mon-compte",
    )
    assert response.status_code == 302
    db.refresh(karine)
    assert karine.email == "karine@exemple.fr", "unchanged until the link is followed"
    mail = _mails(db, "karine.nouvelle@exemple.fr")[-1]
    link = _link(mail, r"(/mon-compte/adresse/[A-Za-z0-9_-]+)")
    assert "karine.nouvelle@exemple.fr" in _text(client.get(link))
    db.refresh(karine)
    assert karine.email == "karine@exemple.fr", "opening the link alone changes nothing"
    assert _post(client, link, {}, token_path="/mon-compte").status_code == 302
    db.refresh(karine)
    assert karine.email == "karine.nouvelle@exemple.fr"
    assert (
        _mails(db, "karine@exemple.fr")[-1].subject
        == "Forprev : votre adresse e-mail a été modifiée"
    )
    assert client.get(link).status_code == 410


def test_change_email_to_a_taken_address_tells_its_owner_only(client, login_as, karine, db):
    factories.person(db, email="prise@exemple.fr")
    db.commit()
    login_as(karine)
    response = _post(
        client,
        "/mon-compte/adresse",
        {"mail-email": "prise@exemple.fr", "mail-current_password": factories.PASSWORD},
        token_path="/mon-compte",
    )
    assert response.status_code == 302
    assert "Un e-mail de confirmation a été envoyé à prise@exemple.fr" in _text(
        client.get("/mon-compte")
    )
    mail = _mails(db, "prise@exemple.fr")[-1]
    assert "/mon-compte/adresse/" not in mail.text_body
    assert db.exec(select(AccountToken)).all() == []


@pytest.mark.parametrize(
    "data, field, message",
    [
        (
            {"mail-email": "", "mail-current_password": factories.PASSWORD},
            "mail-email",
            "Saisissez une adresse e-mail.",
        ),
        (
            {"mail-email": "pas-une-adresse", "mail-current_password": factories.PASSWORD},
            "mail-email",
            "Saisissez une adresse e-mail valide, par exemple marie.dupont@exemple.fr.",
        ),
        (
            {"mail-email": "KARINE@exemple.fr", "mail-current_password": factories.PASSWORD},
            "mail-email",
            "C'est déjà votre adresse e-mail.",
        ),
        (
            {"mail-email": "k2@exemple.fr", "mail-current_password": "faux"},
            "mail-current_password",
            "Le mot de passe actuel est incorrect.",
        ),
    ],
)
def test_change_email_bad_input(client, login_as, karine, db, data, field, message):
    login_as(karine)
    response = _post(client, "/mon-compte/adresse", data, token_path="/mon-compte")
    assert response.status_code == 422
    assert _field_error(response, field) == message
    if data["mail-email"]:
        assert f'value="{data["mail-email"]}"' in _text(response)
    assert _mails(db) == []


def test_notification_choices_and_caisse_change(client, login_as, karine, db):
    login_as(karine)
    cramif = factories.fund(db, "CRAMIF")
    response = _post(
        client,
        "/mon-compte/notifications",
        {"pref-notify_messages": "y", "pref-fund_id": str(cramif.id)},
        token_path="/mon-compte",
    )
    assert response.status_code == 302
    db.refresh(karine)
    assert (karine.notify_alerts, karine.notify_notifications, karine.notify_messages) == (
        False,
        False,
        True,
    )
    assert karine.trainer_fund_id == cramif.id
    response = _post(
        client, "/mon-compte/notifications", {"pref-fund_id": "999999"}, token_path="/mon-compte"
    )
    assert response.status_code == 422
    assert _field_error(response, "pref-fund_id") == "Choisissez votre caisse de rattachement."


# --- throttling ------------------------------------------------------------------------


def _from(app, address: str) -> AuthActions:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


def test_wrong_passwords_lock_out_their_address_not_the_account(app, karine):
    """Five wrong passwords block that address on that account, for 15 minutes; the
    owner, from an address that has not been failing, still logs in."""
    attacker, owner = _from(app, "203.0.113.66"), _from(app, "198.51.100.7")
    start = utcnow().replace(second=0, microsecond=0) + timedelta(hours=1)
    with frozen(start):
        for _ in range(5):
            assert attacker.login("karine@exemple.fr", "mauvais").status_code == 422
        blocked = attacker.login("karine@exemple.fr", factories.PASSWORD)  # even the right one
        assert blocked.status_code == 429
        assert "Trop de tentatives. Réessayez dans 15 minutes." in _text(blocked)
        assert blocked.headers["Retry-After"] == "900"
        assert 'value="karine@exemple.fr"' in _text(blocked)
        # an unknown identifier is throttled the same way: no hint that an account exists
        for _ in range(5):
            attacker.login("inconnu@exemple.fr", "mauvais")
        assert attacker.login("inconnu@exemple.fr", "mauvais").status_code == 429

        assert owner.login("karine@exemple.fr", "faute de frappe").status_code == 422
        assert owner.login("karine@exemple.fr", factories.PASSWORD).status_code == 302
        assert "<dd>KPA12345</dd>" in _text(owner.client.get("/mon-compte"))
    with frozen(start + timedelta(minutes=15, seconds=1)):
        assert attacker.login("karine@exemple.fr", factories.PASSWORD).status_code == 302


def test_the_login_lock_lifts_as_failures_get_older_than_15_minutes(app, karine):
    """A sliding window: each failure counts for 15 minutes from when it happened (the
    lock no longer lifts at the next quarter hour)."""
    someone = _from(app, "203.0.113.9")
    quarter = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    at = {m: quarter + timedelta(minutes=m) for m in (10, 14, 16, 25, 29)}
    with frozen(at[10]):
        for _ in range(3):
            assert someone.login("karine@exemple.fr", "mauvais").status_code == 422
    with frozen(at[14]):
        for _ in range(2):
            assert someone.login("karine@exemple.fr", "mauvais").status_code == 422
        blocked = someone.login("karine@exemple.fr", "mauvais")
        assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "660"
    with frozen(at[16]):  # past the quarter hour: still the same five failures
        blocked = someone.login("karine@exemple.fr", factories.PASSWORD)
        assert blocked.status_code == 429
        assert "Réessayez dans 9 minutes." in _text(blocked)
    with frozen(at[25] + timedelta(seconds=1)):  # the three of :10 are over, two remain
        for _ in range(3):
            assert someone.login("karine@exemple.fr", "mauvais").status_code == 422
        blocked = someone.login("karine@exemple.fr", factories.PASSWORD)
        assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "239"
    with frozen(at[29] + timedelta(seconds=1)):
        assert someone.login("karine@exemple.fr", factories.PASSWORD).status_code == 302


def test_login_failures_are_throttled_per_address(client, db, auth):
    factories.person(db, email="karine@exemple.fr")
    db.commit()
    start = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    with frozen(start):
        for n in range(30):
            assert auth.login(f"p{n}@exemple.fr", "mauvais").status_code == 422
        assert auth.login("p99@exemple.fr", "mauvais").status_code == 429
        assert auth.login("karine@exemple.fr", factories.PASSWORD).status_code == 429


def test_account_forms_are_throttled_per_address(client, db):
    start = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    with frozen(start):
        for n in range(10):
            assert (
                _post(
                    client, "/mot-de-passe-oublie", {"identifier": f"p{n}@exemple.fr"}
                ).status_code
                == 200
            )
        blocked = _post(client, "/mot-de-passe-oublie", {"identifier": "p@exemple.fr"})
        assert blocked.status_code == 429
        assert "Trop de tentatives. Réessayez dans 60 minutes." in _text(blocked)


# --- login sessions --------------------------------------------------------------------


def test_session_cookie_flags_outside_development(database_url, redis_url):
    production = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": "x" * 32,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )
    cookie = production.test_client().get("/connexion").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    production.extensions["forprev_engine"].dispose()


def test_idle_login_session_ends(client, login_as, karine):
    start = utcnow()
    with frozen(start):
        login_as(karine)
    with frozen(start + timedelta(minutes=59)):
        assert client.get("/mon-compte").status_code == 200
    with frozen(start + timedelta(minutes=59 + 61)):
        response = client.get("/mon-compte")
        assert response.location.startswith("/connexion?next=/mon-compte")
        assert "après une période d'inactivité" in _text(client.get(response.location))


def test_answers_leave_the_session_cookie_alone_between_activity_marks(
    client, db, login_as, karine
):
    """A cookie sent back by every answer let a live check still on its way overwrite the
    cookie of the form sent just after it, and the form's message was lost: only answers
    that change the session write it, and the activity mark at most once a minute."""
    cramif = factories.fund(db, "CRAMIF")
    db.commit()
    start = utcnow()
    with frozen(start):
        login_as(karine)
        client.get("/")  # the landing page (and any message of the login)
    with frozen(start + timedelta(seconds=30)):
        page = client.get("/mon-compte")
        assert "Mon compte" in _text(page)
        assert "Set-Cookie" not in page.headers
    with frozen(start + timedelta(seconds=90)):
        assert "forprev_session=" in client.get("/mon-compte").headers["Set-Cookie"]
    with frozen(start + timedelta(seconds=100)):
        assert "Set-Cookie" not in client.get("/").headers
        # a message for the next page still goes into the cookie
        sent = client.post(
            "/mon-compte/notifications",
            data={
                "csrf_token": csrf_token(client, "/mon-compte"),
                "pref-notify_alerts": "y",
                "pref-fund_id": str(cramif.id),
            },
        )
        assert sent.status_code == 302
        assert "forprev_session=" in sent.headers["Set-Cookie"]
        assert "Vos choix de notifications sont enregistrés." in _text(client.get(sent.location))


def test_login_session_has_a_maximum_lifetime(client, login_as, karine):
    start = utcnow()
    with frozen(start):
        login_as(karine)
    for hours in range(1, 12):
        with frozen(start + timedelta(hours=hours)):
            assert client.get("/mon-compte").status_code == 200
    with frozen(start + timedelta(hours=12, minutes=1)):
        assert client.get("/mon-compte").location.startswith("/connexion")


# --- the first administrator -----------------------------------------------------------


def test_create_admin_command(database_url, redis_url, db):
    env = {
        "FORPREV_ENV": "test",
        "FORPREV_DATABASE_URL": database_url,
        "FORPREV_REDIS_URL": redis_url,
    }
    result = run_flask(
        "create-admin",
        "--email",
        "Admin@Exemple.fr",
        "--first-name",
        "Hélène",
        "--last-name",
        "Rousseau",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "Administrateur créé : Hélène ROUSSEAU" in result.stdout
    assert re.search(r"/mot-de-passe/nouveau/[A-Za-z0-9_-]{30,}", result.stdout)
    admin = db.exec(select(Person).where(Person.email == "admin@exemple.fr")).one()
    assert db.exec(select(RoleGrant.role).where(RoleGrant.person_id == admin.id)).all() == [
        Role.ADMINISTRATEUR
    ]
    assert _mails(db, "admin@exemple.fr")[-1].subject == "Forprev : votre compte a été créé"
    again = run_flask(
        "create-admin",
        "--email",
        "admin@exemple.fr",
        "--first-name",
        "H",
        "--last-name",
        "R",
        env=env,
    )
    assert again.returncode != 0
    assert "Un compte existe déjà avec cette adresse e-mail." in again.stderr


def test_behind_a_proxy_the_client_address_is_the_forwarded_one(database_url, redis_url):
    from flask import request

    behind = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PROXY_HOPS": 1,
        }
    )
    behind.add_url_rule("/essai/adresse", "addr", lambda: request.remote_addr)
    answer = behind.test_client().get("/essai/adresse", headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer.get_data(as_text=True) == "203.0.113.7"
    behind.extensions["forprev_engine"].dispose()
