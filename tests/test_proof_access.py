"""Who may reach what: every route of the URL map × every kind of user × every method,
on objects owned by entity A (tests/proof.py). Outsiders get 403 or 404 and never a
word of the object; anonymous users are sent to the login page; every response carries
the security headers; every state-changing route refuses a request without its CSRF
token. A route missing from EXPECTED fails the run, so a new screen cannot be forgotten.
"""

import pytest

from tests.proof import ACTORS, csrf_of, routes, url_for_rule

EVERYONE = set(ACTORS)
LOGGED_IN = EVERYONE - {"anonyme"}
MANAGERS = {"gestionnaire_a", "gestionnaire_b", "delegataire"}
TRAINERS = {"formateur", "formateur_autre"}
AUTHORS = {"instructeur", "instructeur_autre", "administrateur"}
OWNER = {"gestionnaire_a"}

CSP_DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
]
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

# endpoint → actors who reach it (for every method it has). Everybody else: 403/404,
# or the login page when anonymous.
EXPECTED: dict[str, set[str]] = {
    # public pages
    "static": EVERYONE,
    "help.index": EVERYONE,
    "account.terms": EVERYONE,
    "public.verify": EVERYONE,
    "public.organizations": EVERYONE,  # "Organismes habilités"
    "auth.login": EVERYONE,
    "account.signup": EVERYONE,
    "account.forgot_password": EVERYONE,
    "account.set_password": EVERYONE,
    "account.password_rules": EVERYONE,
    "account.confirm_email": EVERYONE,  # the link is the credential
    # every logged-in person, on their own account
    "dashboard.index": LOGGED_IN,
    "dashboard.counter": LOGGED_IN,
    "account.index": LOGGED_IN,
    "account.change_email": LOGGED_IN,
    "account.change_password": LOGGED_IN,
    "account.update_preferences": LOGGED_IN,
    "account.onboarding": LOGGED_IN,
    "auth.switch": LOGGED_IN,
    "auth.logout": LOGGED_IN,
    # things addressed to one person
    "dashboard.mark_alert_read": OWNER,  # the alert is the gestionnaire's
    # the message went to every trainer, and entity A's gestionnaire is a trainer too:
    # receipts belong to the person, whatever role is active
    "messages.mark_read": TRAINERS | OWNER,
    "account.my_certificates": TRAINERS,
    "account.my_certificate_pdf": {"formateur"},  # her certificate
    # per role
    "catalogue.index": {"administrateur"},
    # the back office: the administrator's; "Personnes" also the instructor's, in the
    # region of their caisse (the world's person is a trainer of entity A's caisse)
    **{
        f"catalogue.{name}": {"administrateur"}
        for name in (
            "level",
            "save_scheme",
            "check_scheme",
            "save_rules",
            "check_rules",
            "add_model",
            "check_new_model",
            "save_model",
            "check_model",
            "save_requirement",
            "check_requirement",
            "add_qualification",
            "remove_qualification",
        )
    },
    **{
        f"people.{name}": {"instructeur", "administrateur"}
        for name in ("page", "identity", "deactivate", "reactivate")
    },
    # every instructor searches their own region
    "people.index": AUTHORS,
    "people.merge_preview": {"administrateur"},
    "people.merge": {"administrateur"},
    **{
        f"qualifications.{name}": {"administrateur"}
        for name in ("new", "check_field", "index", "withdraw", "download")
    },
    # a qualification INRS recorded with its PDF, on her own account
    "account.my_qualification_pdf": {"formateur"},
    **{
        f"funds.{name}": {"administrateur"}
        for name in (
            "index",
            "detail",
            "add_instructor",
            "check_instructor_field",
            "remove_instructor",
            "move_department",
            "administrators",
            "add_administrator",
        )
    },
    **{
        f"imports.{name}": {"administrateur"}
        for name in ("index", "start", "show", "progress", "refusals", "run_for_real", "retry")
    },
    "organizations.mine": MANAGERS,
    # "Habilitations": the entity's (the délégataire's delegated ones), the caisse's entities'
    # for its instructors, every one for an administrator
    "accreditations.index": MANAGERS | AUTHORS,
    # entity A's SST / 1, delegated to the délégataire; its CATEC / 1 (letter, documents,
    # platforms) is not delegated
    "accreditations.show": {"gestionnaire_a", "delegataire", "instructeur", "administrateur"},
    "accreditations.tab": {"gestionnaire_a", "delegataire", "instructeur", "administrateur"},
    "accreditations.decision_letter": {"gestionnaire_a", "instructeur", "administrateur"},
    "accreditations.document": {"gestionnaire_a", "instructeur", "administrateur"},
    "accreditations.add_suspension": {"instructeur", "administrateur"},
    "accreditations.add_platform": OWNER,
    "accreditations.approve_platform": {"instructeur", "administrateur"},
    # accreditation requests: each gestionnaire asks for their own entity; entity A's
    # requests are read by its gestionnaire and, once submitted, by its caisse and the CNH;
    # the gestionnaire alone changes the draft
    "accreditation_requests.create": {"gestionnaire_a", "gestionnaire_b"},
    "accreditation_requests.renew": OWNER,
    "accreditation_requests.show": {"gestionnaire_a", "instructeur", "administrateur"},
    "accreditation_requests.tab": {"gestionnaire_a", "instructeur", "administrateur"},
    "accreditation_requests.commitment_letter": {"gestionnaire_a", "instructeur", "administrateur"},
    "accreditation_requests.download_document": {
        "gestionnaire_a",
        "instructeur",
        "administrateur",
    },
    "accreditation_requests.save": OWNER,
    "accreditation_requests.check_level": OWNER,
    "accreditation_requests.check_comment": OWNER,
    "accreditation_requests.check_platform": OWNER,
    "accreditation_requests.check_equipment": OWNER,
    "accreditation_requests.add_document": OWNER,
    "accreditation_requests.remove_document": OWNER,
    "accreditation_requests.add_platform": OWNER,
    "accreditation_requests.remove_platform": OWNER,
    "accreditation_requests.add_equipment": OWNER,
    "accreditation_requests.remove_equipment": OWNER,
    "accreditation_requests.submit": OWNER,
    "accreditation_requests.abandon": OWNER,
    # the caisse of entity A instructs; the administrator records the CNH's decision
    "accreditation_decisions.start": {"instructeur"},
    "accreditation_decisions.complete": {"instructeur"},
    "accreditation_decisions.incomplete": {"instructeur"},
    "accreditation_decisions.favourable": {"administrateur"},
    "accreditation_decisions.unfavourable": {"administrateur"},
    # "Demandes à instruire": every caisse's queue; the request and the change are entity A's
    # caisse's (Alsace-Moselle), seen by the administrator, decided by that caisse alone
    "instruction.requests": {"instructeur", "instructeur_autre", "administrateur"},
    "instruction.request_detail": {"instructeur", "administrateur"},
    "instruction.request_attestation": {"instructeur", "administrateur"},
    "instruction.validate": {"instructeur"},
    "instruction.return_request": {"instructeur"},
    "instruction.change_detail": {"instructeur", "administrateur"},
    "instruction.change_attestation": {"instructeur", "administrateur"},
    "instruction.accept_change": {"instructeur"},
    "instruction.refuse_change": {"instructeur"},
    "messages.index": AUTHORS,
    "messages.create": AUTHORS,
    "messages.preview": AUTHORS,
    "cert_sessions.index": MANAGERS | TRAINERS,
    "cert_sessions.new": MANAGERS,
    "cert_sessions.create": MANAGERS,
    "cert_sessions.check_new_session_field": MANAGERS,
    # a session of entity A, declared by its gestionnaire
    "cert_sessions.show": OWNER,
    "cert_sessions.tab": OWNER,
    "cert_sessions.save_session": OWNER,
    "cert_sessions.check_session_field": OWNER,
    "cert_sessions.verify_trainer": OWNER,
    "cert_sessions.add_trainee": OWNER,
    "cert_sessions.paste_trainees": OWNER,
    "cert_sessions.remove_trainee": OWNER,
    "cert_sessions.send_to_trainer": OWNER,
    "cert_sessions.modify": OWNER,
    "cert_sessions.generate": OWNER,
    "cert_sessions.delete": OWNER,
    "cert_sessions.progress": OWNER,
    "cert_sessions.download_zip": OWNER,
    "cert_sessions.download_pdf": OWNER,
    "cert_sessions.mark_downloaded": OWNER,
    "cert_sessions.retry_generation": OWNER,
    # CSV exports: entity A's activity for its gestionnaire, the closed session's trainees
    "exports.activity": OWNER,
    "exports.activity_by_scheme": OWNER,
    "exports.passport": OWNER,
    # the session in its trainer's hands
    "cert_sessions.trainer_results": {"formateur"},
    # "Utilisateurs" of entity A, and one of its délégataires (not an actor)
    "entity_users.index": {"gestionnaire_a", "gestionnaire_b"},
    "entity_users.add": {"gestionnaire_a", "gestionnaire_b"},
    "entity_users.edit": OWNER,
    "entity_users.change": OWNER,
    "entity_users.remove": OWNER,
    # "Mon entité": each gestionnaire edits their own entity; the pending change is A's
    "organizations.edit_admin": {"gestionnaire_a", "gestionnaire_b"},
    "organizations.request_change": {"gestionnaire_a", "gestionnaire_b"},
    "organizations.check_admin_field": {"gestionnaire_a", "gestionnaire_b"},
    "organizations.edit_signatory": {"gestionnaire_a", "gestionnaire_b"},
    "organizations.edit_listing": {"gestionnaire_a", "gestionnaire_b"},
    "organizations.withdraw": OWNER,
    # "Demande de nouvelle entité" and "Mes demandes en cours": the demandeur's own requests
    "entity_requests.index": {"demandeur"},
    "entity_requests.new": {"demandeur"},
    "entity_requests.create": {"demandeur"},
    "entity_requests.check_field": {"demandeur"},
    "entity_requests.step": {"demandeur"},
    "entity_requests.save": {"demandeur"},
    "entity_requests.view": {"demandeur"},
    "entity_requests.attestation": {"demandeur"},
    "entity_requests.confirm_abandon": {"demandeur"},
    "entity_requests.abandon": {"demandeur"},
    # the contact form is for everyone; "Demandes d'assistance" for the support
    # (administrators), the open request also for the demandeur who sent it
    "help.contact": EVERYONE,
    "help.requests": {"administrateur"},
    "help.request_detail": {"administrateur", "demandeur"},
    "help.answer_request": {"administrateur"},
    "help.close_request": {"administrateur"},
    # a role's manual is public like the FAQ; the administrators write both
    "help.manual": EVERYONE,
    "help.manage": {"administrateur"},
    "help.new_faq": {"administrateur"},
    "help.edit_faq": {"administrateur"},
    "help.move_faq": {"administrateur"},
    "help.delete_faq": {"administrateur"},
    "help.edit_manual": {"administrateur"},
    # "Statistiques": national, the instructor's caisse, the gestionnaire's entity
    "stats.index": {
        "gestionnaire_a",
        "gestionnaire_b",
        "instructeur",
        "instructeur_autre",
        "administrateur",
    },
    "stats.figure_csv": {
        "gestionnaire_a",
        "gestionnaire_b",
        "instructeur",
        "instructeur_autre",
        "administrateur",
    },
}

# routes whose answer to the allowed actors changes the demo: tried last
LAST = [
    "accreditation_requests.renew",
    "cert_sessions.delete",
    "entity_users.remove",
    "help.delete_faq",
    "auth.switch",
    "auth.logout",
]


def _all_routes():
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    found = list(routes(app))
    found.sort(key=lambda rm: LAST.index(rm[0].endpoint) if rm[0].endpoint in LAST else -1)
    return [
        pytest.param(rule.endpoint, rule.rule, method, id=f"{method} {rule.rule}")
        for rule, method in found
    ]


ROUTES = _all_routes()


def _rule(world, endpoint, path):
    return next(
        r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == path
    )


def _outcome(response) -> str:
    if response.status_code >= 500:
        return f"erreur {response.status_code}"
    if response.status_code in (403, 404):
        return "refusé"
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and "/connexion" in location:
        return "connexion"
    return "atteint"


def _request(world, actor, method, url, endpoint=None):
    client = world.client(actor)
    if method == "GET":
        return client.get(url)
    # a valid token: this checks authorization, the CSRF test checks the token
    data = {"csrf_token": csrf_of(client, "/aide/")}
    if endpoint == "auth.switch" and actor != "anonyme":
        data["grant_id"] = str(world.ids[f"grant:{actor}"])  # a role the actor holds
    return client.open(url, method=method, data=data)


def _check_headers(response, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    for directive in CSP_DIRECTIVES:
        assert directive in csp, f"{where} : CSP sans {directive}"
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, f"{where} : en-tête {name} absent"
    assert "camera=()" in response.headers.get("Permissions-Policy", ""), where
    for cookie in response.headers.getlist("Set-Cookie"):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, f"{where} : {cookie}"


def test_every_route_has_expectations(world):
    missing = sorted({r.endpoint for r in world.app.url_map.iter_rules()} - set(EXPECTED))
    assert not missing, f"routes sans attentes d'accès : {missing}"
    unknown = sorted(set(EXPECTED) - {r.endpoint for r in world.app.url_map.iter_rules()})
    assert not unknown, f"attentes pour des routes qui n'existent plus : {unknown}"


@pytest.mark.parametrize(("endpoint", "path", "method"), ROUTES)
def test_outsiders_are_refused(world, endpoint, path, method):
    """Every actor not allowed gets 403/404 (login page when anonymous), sees none of
    the object's data, and the headers are there on every answer."""
    url = url_for_rule(world, _rule(world, endpoint, path))
    allowed = EXPECTED.get(endpoint, set())
    leaks = []
    for actor in sorted(EVERYONE - allowed):
        response = _request(world, actor, method, url)
        where = f"{method} {url} par {actor}"
        _check_headers(response, where)
        expected = "connexion" if actor == "anonyme" else "refusé"
        got = _outcome(response)
        if got != expected:
            leaks.append(f"{where} : {got} ({response.status_code}) au lieu de {expected}")
        body = response.get_data(as_text=True)
        leaks += [f"{where} : « {s} » visible" for s in world.secrets if s in body]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize(("endpoint", "path", "method"), ROUTES)
def test_allowed_actors_reach_the_route(world, endpoint, path, method):
    """The expectations are not all refusals: each allowed actor gets an answer from
    the screen itself (a page, a redirect, or a French message about the input)."""
    url = url_for_rule(world, _rule(world, endpoint, path))
    problems = []
    for actor in sorted(EXPECTED.get(endpoint, set())):
        response = _request(world, actor, method, url, endpoint)
        _check_headers(response, f"{method} {url} par {actor}")
        got = _outcome(response)
        if endpoint == "auth.logout":
            # reached: the person is out, sent to the login page
            after = _outcome(world.client(actor).get("/"))
            got = "atteint" if (got, after) == ("connexion", "connexion") else got
            world.clients[actor] = world.login(actor)
        if got != "atteint":
            problems.append(f"{method} {url} par {actor} : {got} ({response.status_code})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("endpoint", "path", "method"), [p for p in ROUTES if p.values[2] != "GET"]
)
def test_state_changes_need_the_csrf_token(world, endpoint, path, method):
    """Without its token, a POST is refused with the French page, for the very actor who
    may use the route."""
    url = url_for_rule(world, _rule(world, endpoint, path))
    actor = sorted(EXPECTED[endpoint])[0]
    response = world.client(actor).open(url, method=method, data={"confirm": "1"})
    assert response.status_code == 400, f"{method} {url} par {actor} : {response.status_code}"
    assert "Votre formulaire a expiré ou ne vient pas de Forprev" in response.get_data(as_text=True)
    _check_headers(response, f"{method} {url} sans jeton")
