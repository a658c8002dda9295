"""Help content: the FAQ (grouped by module, searched the same way on SQLite and
PostgreSQL) and the manual of each role, written in Markdown by administrators.

The search compares normalised text: `normalise` lower-cases, drops accents and keeps
letters and digits with one space between words. Each entry stores its question and answer
normalised (`FaqEntry.search_text`, rewritten on every save); a query is normalised the
same way and every one of its words must appear (in any order), through LIKE with its
wildcards escaped — no database function is needed, so both backends answer alike.

Markdown goes through markdown-it-py with raw HTML off (a `<script>` or an `onerror`
attribute comes out as text) and images off; a link keeps its target only when it is
http(s) or mailto, otherwise it stays plain text.
"""

import re
import unicodedata
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from sqlalchemy import func
from sqlmodel import Session, select

from app.clock import utcnow
from app.domain.audit import record_event
from app.domain.errors import DomainError
from app.models import FaqEntry, Manual
from app.models.help import MANUAL_ROLES
from app.models.people import ROLE_LABELS, Role

# module key → heading of the FAQ, in the order the FAQ shows them
MODULES = {
    "compte": "Mon compte",
    "entite": "Mon entité",
    "habilitation": "Habilitation",
    "certification": "Sessions de certification",
    "certificats": "Certificats",
}

QUESTION_MAX = 300
ANSWER_MAX = 20_000
TITLE_MAX = 200
MANUAL_MAX = 100_000
QUERY_WORDS_MAX = 10  # a longer query keeps its first ten words

# letters NFKD does not take apart
_LIGATURES = {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d", "ı": "i"}


def _fold_char(char: str) -> str:
    """One character as the search sees it: lower case, no accent; '' for a mark."""
    lower = char.lower()
    if lower in _LIGATURES:
        return _LIGATURES[lower]
    decomposed = unicodedata.normalize("NFKD", lower)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if c.isalnum() else " " for c in plain)


def normalise(text: str) -> str:
    """`L'Habilitation  «SST» échue` → `l habilitation sst echue`."""
    return " ".join("".join(_fold_char(c) for c in text or "").split())


def query_words(query: str) -> list[str]:
    """The distinct words of a search, normalised, in the order typed."""
    words = []
    for word in normalise(query).split():
        if word not in words:
            words.append(word)
    return words[:QUERY_WORDS_MAX]


def search_text_of(question: str, answer: str) -> str:
    return normalise(f"{question} {answer}")


# ---------------------------------------------------------------- highlighting


def _folded_with_positions(text: str) -> tuple[str, list[int]]:
    """The folded text (no collapsing) and, for each of its characters, the index of the
    original character it comes from."""
    folded, origin = [], []
    for index, char in enumerate(text):
        for piece in _fold_char(char):
            folded.append(piece)
            origin.append(index)
    return "".join(folded), origin


def highlight(text: str, words: list[str]) -> Markup:
    """`text` escaped, each occurrence of a search word wrapped in <mark> (accents and case
    ignored). Nothing of the text is trusted: every piece goes through `escape`."""
    if not words or not text:
        return escape(text or "")
    folded, origin = _folded_with_positions(text)
    spans: list[tuple[int, int]] = []
    for word in words:
        for match in re.finditer(re.escape(word), folded):
            spans.append((origin[match.start()], origin[match.end() - 1] + 1))
    if not spans:
        return escape(text)
    spans.sort()
    merged = [spans[0]]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out, cursor = [], 0
    for start, end in merged:
        out.append(escape(text[cursor:start]))
        out.append(Markup("<mark>%s</mark>") % text[start:end])
        cursor = end
    out.append(escape(text[cursor:]))
    return Markup("").join(out)


# ---------------------------------------------------------------- Markdown

_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _safe_link(url: str) -> bool:
    """Only http(s) and mailto links: javascript:, data:, relative and odd spellings are
    refused (markdown-it then leaves the text as it was typed)."""
    return url.strip().lower().startswith(_SAFE_SCHEMES)


# ids the page around a manual already uses: a heading never takes one of them
RESERVED_IDS = {"contenu", "role-select", "manuel-sommaire", "manuel-titre"}


def _slug(text: str, taken: set[str], prefix: str) -> str:
    base = prefix + (normalise(text).replace(" ", "-") or "section")
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _heading_anchors(state) -> None:
    """Core rule: every heading gets an id (its table-of-contents anchor) and is at least
    of `min_level` (2: the page's title is its only <h1>; deeper in a FAQ answer)."""
    taken = set(RESERVED_IDS)
    prefix = state.env.get("anchor_prefix", "")
    toc = state.env.setdefault("toc", [])
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        level = min(max(int(token.tag[1]), state.env.get("min_level", 2)), 6)
        token.tag = tokens[i + 2].tag = f"h{level}"
        title = tokens[i + 1].content
        anchor = _slug(title, taken, prefix)
        token.attrSet("id", anchor)
        if token.tag in ("h2", "h3"):
            toc.append(TocEntry(level=int(token.tag[1]), title=title, anchor=anchor))


def _render_text(renderer, tokens, idx, options, env):
    """Text is escaped as markdown-it does, with the search's words marked."""
    return str(highlight(tokens[idx].content, env.get("words") or []))


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.disable("image")  # an image would load from anywhere (and say nothing to a reader)
    md.validateLink = _safe_link
    md.core.ruler.push("heading_anchors", _heading_anchors)
    md.add_render_rule("text", _render_text)
    return md


_MD = _markdown()


@dataclass(frozen=True)
class TocEntry:
    level: int
    title: str
    anchor: str


@dataclass
class Rendered:
    html: Markup
    toc: list[TocEntry] = field(default_factory=list)


def render_markdown(
    source: str, words: list[str] | None = None, anchor_prefix: str = "", min_level: int = 2
) -> Rendered:
    """Markdown as safe HTML (see the module's docstring) and its table of contents; the
    headings' anchors start with `anchor_prefix` (several answers share one page)."""
    env: dict = {"words": words or [], "anchor_prefix": anchor_prefix, "min_level": min_level}
    html = _MD.render(source or "", env)
    return Rendered(html=Markup(html), toc=env.get("toc", []))


# ---------------------------------------------------------------- FAQ


@dataclass
class FaqItem:
    entry: FaqEntry
    question: Markup
    answer: Markup


@dataclass
class FaqGroup:
    module: str
    label: str
    items: list[FaqItem]


@dataclass
class FaqResult:
    query: str
    words: list[str]
    groups: list[FaqGroup]

    @property
    def count(self) -> int:
        return sum(len(g.items) for g in self.groups)


def _module_order():
    return {module: i for i, module in enumerate(MODULES)}


def search_faq(db: Session, query: str = "") -> FaqResult:
    """The FAQ grouped by module; with a query, only the entries holding every word of it
    (accents, case and order ignored), the words marked."""
    words = query_words(query)
    statement = select(FaqEntry)
    for word in words:
        statement = statement.where(FaqEntry.search_text.contains(word, autoescape=True))
    entries = db.exec(statement.order_by(FaqEntry.position, FaqEntry.id)).all()
    order = _module_order()
    entries = sorted(entries, key=lambda e: order.get(e.module, len(order)))
    groups: dict[str, FaqGroup] = {}
    for entry in entries:
        group = groups.setdefault(
            entry.module, FaqGroup(entry.module, MODULES.get(entry.module, entry.module), [])
        )
        group.items.append(
            FaqItem(
                entry=entry,
                question=highlight(entry.question, words),
                answer=render_markdown(entry.answer, words, f"q{entry.id}-", min_level=4).html,
            )
        )
    return FaqResult(query=query, words=words, groups=list(groups.values()))


def _check_faq(module: str, question: str, answer: str) -> tuple[str, str, str]:
    module, question, answer = (module or "").strip(), (question or "").strip(), answer or ""
    if module not in MODULES:
        raise DomainError("Choisissez le module de la question dans la liste.", "module")
    if not question:
        raise DomainError("Saisissez la question.", "question")
    if len(question) > QUESTION_MAX:
        raise DomainError(
            f"La question tient en {QUESTION_MAX} caractères au plus ({len(question)} saisis).",
            "question",
        )
    if not answer.strip():
        raise DomainError("Saisissez la réponse.", "answer")
    if len(answer) > ANSWER_MAX:
        raise DomainError(
            f"La réponse tient en 20 000 caractères au plus ({len(answer)} saisis).", "answer"
        )
    if "\x00" in question + answer:
        raise DomainError("Le texte contient un caractère invalide.", "answer")
    return module, question, answer.strip()


def get_faq_entry(db: Session, entry_id: int) -> FaqEntry | None:
    return db.get(FaqEntry, entry_id)


def save_faq_entry(
    db: Session,
    *,
    actor_id: int | None,
    module: str,
    question: str,
    answer: str,
    entry: FaqEntry | None = None,
) -> FaqEntry:
    """Add (entry None: at the end of its module) or change a FAQ entry; its search text
    follows. Audited."""
    module, question, answer = _check_faq(module, question, answer)
    creating = entry is None
    if creating or entry.module != module:  # last of its module
        last = db.exec(select(func.max(FaqEntry.position)).where(FaqEntry.module == module)).one()
        entry = entry or FaqEntry(module=module, question=question, answer=answer)
        entry.position = (last or 0) + 1
    entry.module, entry.question, entry.answer = module, question, answer
    entry.search_text = search_text_of(question, answer)
    db.add(entry)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="faq.create" if creating else "faq.update",
        object_type="faq_entry",
        object_id=entry.id,
        data={"module": module, "question": question},
    )
    return entry


def delete_faq_entry(db: Session, *, actor_id: int | None, entry: FaqEntry) -> None:
    record_event(
        db,
        actor_id=actor_id,
        action="faq.delete",
        object_type="faq_entry",
        object_id=entry.id,
        data={"module": entry.module, "question": entry.question},
    )
    db.delete(entry)
    db.flush()


def move_faq_entry(db: Session, *, actor_id: int | None, entry: FaqEntry, up: bool) -> None:
    """One place up or down within its module (positions renumbered 1, 2, 3…)."""
    siblings = list(
        db.exec(
            select(FaqEntry)
            .where(FaqEntry.module == entry.module)
            .order_by(FaqEntry.position, FaqEntry.id)
        ).all()
    )
    index = siblings.index(entry)
    target = index - 1 if up else index + 1
    if 0 <= target < len(siblings):
        siblings[index], siblings[target] = siblings[target], siblings[index]
    for position, sibling in enumerate(siblings, start=1):
        sibling.position = position
        db.add(sibling)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="faq.move",
        object_type="faq_entry",
        object_id=entry.id,
        data={"position": entry.position},
    )


# ---------------------------------------------------------------- manuals


def role_label(role: str) -> str:
    return ROLE_LABELS[Role(role)]


def manuals_for(db: Session, active_role: str | None) -> list[Manual]:
    """Every manual, the one of the role in use first, then in the roles' order."""
    manuals = {m.role: m for m in db.exec(select(Manual)).all()}
    order = list(MANUAL_ROLES)
    if active_role in order:
        order.remove(active_role)
        order.insert(0, active_role)
    return [manuals[role] for role in order if role in manuals]


def get_manual(db: Session, role: str) -> Manual | None:
    if role not in MANUAL_ROLES:
        return None
    return db.exec(select(Manual).where(Manual.role == role)).first()


def save_manual(db: Session, *, actor_id: int | None, role: str, title: str, body: str) -> Manual:
    """Write a role's manual (created the first time). Audited."""
    if role not in MANUAL_ROLES:
        raise DomainError("Ce rôle n'a pas de manuel.")
    title, body = (title or "").strip(), body or ""
    if not title:
        raise DomainError("Saisissez le titre du manuel.", "title")
    if len(title) > TITLE_MAX:
        raise DomainError(
            f"Le titre tient en {TITLE_MAX} caractères au plus ({len(title)} saisis).", "title"
        )
    if not body.strip():
        raise DomainError("Saisissez le texte du manuel.", "body")
    if len(body) > MANUAL_MAX:
        raise DomainError(
            f"Le manuel tient en 100 000 caractères au plus ({len(body)} saisis).", "body"
        )
    if "\x00" in title + body:
        raise DomainError("Le texte contient un caractère invalide.", "body")
    manual = get_manual(db, role)
    creating = manual is None
    if creating:
        manual = Manual(role=role, title=title, body=body.strip())
    manual.title, manual.body = title, body.strip()
    manual.updated_at, manual.updated_by_id = utcnow(), actor_id
    db.add(manual)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="manual.create" if creating else "manual.update",
        object_type="manual",
        object_id=manual.id,
        data={"role": role, "title": title},
    )
    return manual
