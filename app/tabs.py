"""What every tabbed screen shares (the certification session, the accreditation request).

A tab is a URL (the whole page, working without JavaScript) and, for htmx, the screen's
panel alone, rendered by the same view from the same templates. Every form of a screen
names the version it read: a form without one is damaged or forged (400), a stale one is
a conflict (409: the screen as it is now, with the message). Moving to another tab from
an editable one posts that tab's form with `aller=<tab>` (the draft is saved, nothing is
written when nothing changed) and shows the tab asked for.

A screen declares its tabs' labels and which exist for an object; the markup is in
app/templates/_macros/tabs.html, the keyboard in app/static/js/forprev.js.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request

from app.ids import parse_id
from app.web import is_htmx

NEXT_TAB_ARG = "aller"


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    url: str


def tab_list(labels: Mapping[str, str], keys: Iterable[str], url_of: Callable[[str], str]):
    """The tabs shown, in order: (key, label, url)."""
    return [Tab(key, labels[key], url_of(key)) for key in keys]


def next_tab(keys: Iterable[str], default: str) -> str:
    """The tab named by `aller` when the screen has it, else `default`."""
    wanted = request.args.get(NEXT_TAB_ARG, default)
    return wanted if wanted in keys else default


def posted_version(formdata) -> int:
    """The version a screen's form names; 400 without one."""
    version = parse_id(formdata.get("version"))
    if version is None:
        abort(400)  # no version the page gives: a damaged or forged form
    return version


def render_tab(page: str, panel: str, *, url: str, status: int = 200, **context):
    """The whole page, or the panel for htmx with the tab's URL pushed to the address bar
    (not for a refusal: the address stays the one the person was on)."""
    htmx = is_htmx()
    headers = {"Vary": "HX-Request"}
    if htmx and status < 400:
        headers["HX-Push-Url"] = url
    return render_template(panel if htmx else page, **context), status, headers


def go_to(url: str):
    """After an action that changes the whole page: htmx follows HX-Redirect."""
    if is_htmx():
        return "", 204, {"HX-Redirect": url}
    return redirect(url)


def after_save(render: Callable[..., tuple], url: str, message: str):
    """A change made: for htmx the panel saying so; without JavaScript the tab again by
    its own address (a reload does not post twice)."""
    if is_htmx():
        return render(saved=message)
    flash(message)
    return redirect(url)


def conflict(db, reload: Callable[[], object | None], render: Callable[..., tuple], message: str):
    """Someone else saved first: nothing of this request is kept; the screen as it is now
    (404 if it is no longer visible), with the message, status 409."""
    db.rollback()
    fresh = reload()
    if fresh is None:
        abort(404)
    return render(fresh, 409, conflict=message)
