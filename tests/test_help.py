"""Aide et assistance: the FAQ's search (accents, case and word order ignored, the same
on SQLite and PostgreSQL), Markdown rendered inert, the manuals with their table of
contents, the administrators' edits (audited) and the help the reference seed ships."""

import re
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from app.cli import upgrade_database
from app.domain import help_content
from app.models import AuditEvent, FaqEntry, Manual
from app.models.people import Role
from seeds.help_content import FAQ, MANUALS, load_help_content
from tests import factories
from tests.conftest import csrf_token, require_env

ENTRIES = [
    ("compte", "J'ai oublié mon mot de passe", "Choisissez « Mot de passe oublié ? »."),
    ("compte", "Plusieurs rôles avec une seule adresse e-mail ?", "Oui, un seul e-mail."),
    ("certification", "Qui clôture la SESSION ?", "Le gestionnaire génère les certificats."),
    ("certificats", "Œuvre d'art et cœur", "Un texte avec ligature."),
    ("entite", "Données de l'entité", "Le SIRET compte 14 chiffres ; 100 % des cas."),
]

# query → questions found (in FAQ order)
QUERIES = {
    "OUBLIE": ["J'ai oublié mon mot de passe"],
    "passe mot": ["J'ai oublié mon mot de passe"],  # any order
    "MOT oublié PASSE": ["J'ai oublié mon mot de passe"],
    "mot passe adresse": [],  # every word must match
    "cloture session": ["Qui clôture la SESSION ?"],
    "Clôturé": ["Qui clôture la SESSION ?"],  # a word may be the start of another
    "clotures": [],
    "e-mail": ["Plusieurs rôles avec une seule adresse e-mail ?"],
    "coeur OEUVRE": ["Œuvre d'art et cœur"],
    "entite": ["Données de l'entité"],
    "100%": ["Données de l'entité"],  # % is no wildcard: only the word 100 is looked for
    "14_chiffres": ["Données de l'entité"],
    "certificats": ["Qui clôture la SESSION ?"],
    "zzz": [],
}


@pytest.fixture(autouse=True)
def _no_help_yet(db):
    """The test database's reference seed brings the shipped FAQ: each test starts empty."""
    for model in (FaqEntry, Manual):
        for row in db.exec(select(model)).all():
            db.delete(row)
    db.commit()


def _admin(db):
    admin = factories.person(db, email="admin@inrs.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    return admin


def _add_entries(db) -> None:
    for module, question, answer in ENTRIES:
        help_content.save_faq_entry(
            db, actor_id=None, module=module, question=question, answer=answer
        )
    db.commit()


def _found(db, query: str) -> list[str]:
    result = help_content.search_faq(db, query)
    return [item.entry.question for group in result.groups for item in group.items]


def test_search_ignores_accents_case_and_word_order(db):
    _add_entries(db)
    assert {q: _found(db, q) for q in QUERIES} == QUERIES


def _results_on(url: str) -> dict[str, list[str]]:
    upgrade_database(url)
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            _add_entries(db)
            return {q: _found(db, q) for q in QUERIES}
    finally:
        engine.dispose()


def test_search_gives_the_same_results_on_sqlite_and_postgresql(tmp_path):
    """The same entries and queries on a fresh SQLite file and a fresh PostgreSQL
    database: the same answers, those expected."""
    on_sqlite = _results_on(f"sqlite:///{tmp_path / 'help.db'}")
    base = require_env("FORPREV_TEST_PG_URL", "bin/test starts a throwaway PostgreSQL")
    name = f"forprev_help_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        on_postgresql = _results_on(base.rsplit("/", 1)[0] + "/" + name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()
    assert on_sqlite == on_postgresql == QUERIES


def test_the_search_text_follows_every_save(db):
    entry = help_content.save_faq_entry(
        db, actor_id=None, module="compte", question="Ancienne question", answer="Réponse"
    )
    assert entry.search_text == "ancienne question reponse"
    help_content.save_faq_entry(
        db,
        actor_id=None,
        module="compte",
        question="Nouvelle Question",
        answer="Réponse À jour",
        entry=entry,
    )
    db.commit()
    assert _found(db, "ancienne") == []
    assert _found(db, "a jour nouvelle") == ["Nouvelle Question"]


def test_matching_words_are_marked_and_the_text_escaped():
    marked = help_content.highlight("<b>Mot</b> de PASSE oublié", ["passe", "oublie"])
    assert str(marked) == "&lt;b&gt;Mot&lt;/b&gt; de <mark>PASSE</mark> <mark>oublié</mark>"


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ("[cliquez](javascript:alert(1))", 'href="javascript'),
        ("[cliquez](JaVaScRiPt:alert(1))", "href="),
        ("[cliquez]( javascript:alert(1))", "href="),
        ("[image](data:text/html;base64,PHNjcmlwdD4=)", "href="),
        ('<img src="x" onerror="alert(1)">', "<img"),
        ("![x](https://exemple.fr/pixel.png)", "<img"),
        ('<a href="https://exemple.fr" onclick="alert(1)">x</a>', "<a "),
        ('<https://exemple.fr" onmouseover="alert(1)>', "<a "),
    ],
)
def test_markdown_is_rendered_inert(source, forbidden):
    html = str(help_content.render_markdown(source).html)
    assert forbidden not in html, html
    assert not re.search(r"<[^>]+\son\w+=", html), html  # no event attribute in any tag


def test_markdown_keeps_http_and_mailto_links_and_builds_the_table_of_contents():
    rendered = help_content.render_markdown(
        "# Connexion\n\n[Site](https://www.inrs.fr) [Écrire](mailto:aide@forprev.fr)\n\n"
        "### Étape un\n\n## Connexion"
    )
    html = str(rendered.html)
    assert '<a href="https://www.inrs.fr">Site</a>' in html
    assert '<a href="mailto:aide@forprev.fr">Écrire</a>' in html
    assert '<h2 id="connexion">Connexion</h2>' in html  # the page's title is the only h1
    assert [(e.level, e.anchor) for e in rendered.toc] == [
        (2, "connexion"),
        (3, "etape-un"),
        (2, "connexion-2"),
    ]


def test_the_faq_page_filters_as_one_types(db, client):
    _add_entries(db)
    page = client.get("/aide/?q=PASSE+oublie")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body
    assert 'value="PASSE oublie"' in body  # the search works without JavaScript
    assert "<mark>oublié</mark>" in body and "Qui clôture" not in body
    assert 'data-hx-trigger="keyup changed delay:300ms, search"' in body

    fragment = client.get("/aide/?q=cl%C3%B4TURE", headers={"HX-Request": "true"})
    text_ = fragment.get_data(as_text=True)
    assert "<html" not in text_ and "Vary" in fragment.headers
    assert "<mark>clôture</mark>" in text_ and "mot de passe" not in text_

    nothing = client.get("/aide/?q=introuvable", headers={"HX-Request": "true"})
    assert re.search(
        r'Aucune réponse : <a href="/aide/contact">écrivez-nous</a>', nothing.get_data(as_text=True)
    )


def test_the_role_in_use_has_its_manual_first(db, client, login_as):
    load_help_content(db)
    db.commit()
    trainer = factories.person(db, email="formatrice@exemple.fr")
    factories.grant(db, trainer, Role.FORMATEUR)
    db.commit()
    anonymous = client.get("/aide/").get_data(as_text=True)
    manuals = re.findall(r'href="/aide/manuel/(\w+)"', anonymous)
    assert manuals[:2] == ["demandeur", "gestionnaire"] and len(manuals) == 6

    login_as(trainer)
    page = client.get("/aide/").get_data(as_text=True)
    assert re.findall(r'href="/aide/manuel/(\w+)"', page)[0] == "formateur"
    assert "Votre rôle actuel" in page
    assert '<span class="role-single">Formateur</span>' in page  # the header is intact

    manual = client.get("/aide/manuel/formateur").get_data(as_text=True)
    assert '<h1 id="manuel-titre">Manuel du formateur</h1>' in manual
    for anchor in re.findall(r'<li[^>]*><a href="#([\w-]+)"', manual):
        assert f'id="{anchor}"' in manual  # every entry of the contents leads somewhere
    assert '<a href="#premiere-connexion">Première connexion</a>' in manual
    assert client.get("/aide/manuel/inconnu").status_code == 404


def test_the_administrator_edits_the_faq_and_every_edit_is_audited(db, client, login_as):
    admin = _admin(db)
    login_as(admin)
    token = csrf_token(client, "/aide/faq/nouvelle")
    created = client.post(
        "/aide/faq/nouvelle",
        data={
            "csrf_token": token,
            "module": "compte",
            "question": "Où est le <script>alert(1)</script> ?",
            "answer": "Voir [ici](javascript:alert(1)) <img src=x onerror=alert(1)>",
        },
    )
    assert created.status_code == 302
    second = client.post(
        "/aide/faq/nouvelle",
        data={"csrf_token": token, "module": "compte", "question": "Deuxième", "answer": "x"},
    )
    assert second.status_code == 302
    page = client.get("/aide/").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'href="javascript' not in page and "<img src=x" not in page

    first, other = db.exec(select(FaqEntry).order_by(FaqEntry.position)).all()
    assert (
        client.post(
            f"/aide/faq/{other.id}/deplacer", data={"csrf_token": token, "sens": "haut"}
        ).status_code
        == 302
    )
    db.expire_all()
    assert [e.question for e in db.exec(select(FaqEntry).order_by(FaqEntry.position))] == [
        "Deuxième",
        first.question,
    ]
    edited = client.post(
        f"/aide/faq/{first.id}/modifier",
        data={"csrf_token": token, "module": "certificats", "question": "Changée", "answer": "y"},
    )
    assert edited.status_code == 302
    assert (
        client.post(f"/aide/faq/{other.id}/supprimer", data={"csrf_token": token}).status_code
        == 302
    )
    db.expire_all()
    assert [(e.module, e.question) for e in db.exec(select(FaqEntry))] == [
        ("certificats", "Changée")
    ]
    actions = [
        (e.action, e.actor_id)
        for e in db.exec(
            select(AuditEvent).where(AuditEvent.object_type == "faq_entry").order_by(AuditEvent.id)
        )
    ]
    assert [a for a, _ in actions] == [
        "faq.create",
        "faq.create",
        "faq.move",
        "faq.update",
        "faq.delete",
    ]
    assert {actor for _, actor in actions} == {admin.id}


def test_the_administrator_writes_a_manual(db, client, login_as):
    admin = _admin(db)
    login_as(admin)
    token = csrf_token(client, "/aide/manuel/instructeur/modifier")
    saved = client.post(
        "/aide/manuel/instructeur/modifier",
        data={
            "csrf_token": token,
            "title": "Manuel de l'instructeur",
            "body": "## Demandes à instruire\n\n<script>x</script>\n\n## Messages ciblés",
        },
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith(
        "/aide/manuel/instructeur"
    )
    page = client.get("/aide/manuel/instructeur").get_data(as_text=True)
    assert '<a href="#demandes-a-instruire">Demandes à instruire</a>' in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    event = db.exec(select(AuditEvent).where(AuditEvent.object_type == "manual")).one()
    assert (event.action, event.actor_id, event.data["role"]) == (
        "manual.create",
        admin.id,
        "instructeur",
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"module": "", "question": "Q", "answer": "R"}, "module", "Choisissez le module"),
        ({"module": "piratage", "question": "Q", "answer": "R"}, "module", "Choisissez le module"),
        (
            {"module": "compte", "question": "  ", "answer": "R"},
            "question",
            "Saisissez la question",
        ),
        ({"module": "compte", "question": "Q" * 301, "answer": "R"}, "question", "300 caractères"),
        ({"module": "compte", "question": "Q", "answer": ""}, "answer", "Saisissez la réponse"),
        ({"module": "compte", "question": "Q", "answer": "R" * 20_001}, "answer", "20 000"),
    ],
)
def test_a_wrong_faq_entry_is_refused_in_french_with_what_was_typed(
    db, client, login_as, data, field, message
):
    login_as(_admin(db))
    response = client.post(
        "/aide/faq/nouvelle", data={"csrf_token": csrf_token(client, "/aide/faq/nouvelle"), **data}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-erreur" role="alert">[^<]*{message}', body), body[-3000:]
    if data["question"].strip() and len(data["question"]) <= 300:
        assert f'value="{data["question"]}"' in body
    assert db.exec(select(FaqEntry)).first() is None


def test_only_administrators_edit_the_help(db, client, login_as):
    manager = factories.person(db, email="gestion@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=factories.organization(db))
    db.commit()
    login_as(manager)
    assert "Gérer la FAQ" not in client.get("/aide/").get_data(as_text=True)
    assert client.get("/aide/gestion").status_code == 403
    assert client.get("/aide/manuel/gestionnaire/modifier").status_code == 403


def test_the_reference_seed_ships_real_help_once(db):
    added = load_help_content(db)
    db.commit()
    assert added == {"questions": len(FAQ), "manuels": 6}
    assert len(FAQ) >= 15
    assert {module for module, _, _ in FAQ} == set(help_content.MODULES)
    assert set(MANUALS) == {r.value for r in Role}
    assert all(len(body) > 1400 for _, body in MANUALS.values())  # a page or more each
    # the questions people ask, found with their own words
    for query, expected in [
        ("premiere fois connecter", "Comment me connecter pour la première fois ?"),
        ("mot de passe oublie", "J'ai oublié mon mot de passe : que faire ?"),
        ("deux adresses", "Je suis gestionnaire et formatrice : me faut-il deux adresses e-mail ?"),
        (
            "plusieurs entites",
            "Je gère plusieurs entités : puis-je garder la même adresse e-mail ?",
        ),
        (
            "caisse rattachement formateur",
            "Je suis formateur : comment choisir ma caisse de rattachement ?",
        ),
        ("declarer session", "Quand puis-je déclarer une session de certification ?"),
        ("qui cloture", "Qui clôture la session : le formateur ou le gestionnaire ?"),
        (
            "telecharger certificats 15 jours",
            "Combien de temps les certificats restent-ils téléchargeables ?",
        ),
        ("renouveler", "Quand et comment renouveler notre habilitation ?"),
        ("liste publique", "Comment apparaître sur la liste publique des organismes habilités ?"),
    ]:
        assert expected in _found(db, query), query

    # an administrator's change survives a second run, and nothing is added twice
    manual = db.exec(select(Manual).where(Manual.role == "formateur")).one()
    manual.title = "Mon manuel"
    db.add(manual)
    db.commit()
    assert load_help_content(db) == {"questions": 0, "manuels": 0}
    assert db.get(Manual, manual.id).title == "Mon manuel"


def test_the_login_page_leads_to_the_help(client):
    assert (
        'href="/aide/">Aide et assistance</a>'
        in client.get("/connexion").get_data(as_text=True).split("</form>")[0]
    )


def test_the_questions_already_there_become_searchable(tmp_path):
    """0006 writes the normalised text of the FAQ entries it finds."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0005")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO faqentry (module, question, answer, position) "
                    "VALUES ('compte', 'Où changer mon MOT de passe ?', 'Dans « Mon compte ».', 1)"
                )
            )
        upgrade_database(url)
        with Session(engine) as db:
            assert _found(db, "passe mot") == ["Où changer mon MOT de passe ?"]
            assert db.exec(select(FaqEntry.search_text)).one() == (
                "ou changer mon mot de passe dans mon compte"
            )
    finally:
        engine.dispose()
