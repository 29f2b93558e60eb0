"""The accounts pages: thin views over identity's API (the rules are identity's, the words are ours)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from services.common.account_links import INVITATION, PASSWORD_RESET
from services.portal import auth
from services.portal.auth import public
from services.portal.client import ApiProblem, api
from services.portal.forms import FormState
from services.portal.i18n import COOKIE, LANGUAGES
from services.portal.problems import FormMapping, Message, form_errors, register_codes
from services.portal.security import once, pending_path, safe_next

bp = Blueprint("accounts", __name__, template_folder="templates")


def _wait(problem: ApiProblem) -> str:
    from services.portal.i18n import duration_filter

    return duration_filter(problem.retry_after or 60)


register_codes(
    {
        "invalid_credentials": Message("password", _l("The e-mail address or the password is wrong.")),
        "account_locked": Message(
            None,
            lambda p: _(
                "Too many failed logins: the account is locked. Try again %(wait)s, or ask your "
                "administrator to unlock it.",
                wait=_wait(p),
            ),
        ),
        "too_many_attempts": Message(None, lambda p: _("Too many failed attempts. Try again %(wait)s.", wait=_wait(p))),
        "password_too_short": Message(
            "new_password",
            lambda p: _("Choose a password of at least %(count)s characters.", count=p.body.get("min_length", 12)),
        ),
        "wrong_password": Message("current_password", _l("Your current password is wrong.")),
        "link_invalid": Message(None, _l("This link is not valid. Ask for a new one.")),
        "link_used": Message(None, _l("This link has been used already, or a newer one was sent. Ask for a new one.")),
        "link_expired": Message(None, _l("This link has expired. Ask for a new one.")),
    }
)
EMAIL_FIELDS = FormMapping(fields={"email": "email"})


def device_of(agent: str) -> str:
    """What the browser is, in a few words, for the person's list of sessions ("Firefox, Windows")."""
    browser = next(
        (
            name
            for pattern, name in (
                (r"Edg/", "Edge"),
                (r"OPR/", "Opera"),
                (r"Firefox/", "Firefox"),
                (r"Chrom(e|ium)/", "Chrome"),
                (r"Safari/", "Safari"),
            )
            if re.search(pattern, agent)
        ),
        "",
    )
    system = next(
        (
            name
            for pattern, name in (
                (r"Android", "Android"),
                (r"iPhone|iPad", "iOS"),
                (r"Windows", "Windows"),
                (r"Mac OS X", "macOS"),
                (r"Linux", "Linux"),
            )
            if re.search(pattern, agent)
        ),
        "",
    )
    return ", ".join(x for x in (browser, system) if x)[:200]


# ---- log in and out ----------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if request.method == "GET":
        if auth.current_user():
            return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
        ended = session.pop("session_ended", False)
        return render_template("accounts/login.html", form=FormState(), ended=ended, kept=bool(pending_path()))
    form = FormState.from_request()
    form.require("email", message=_("Enter your e-mail address."))
    if not form.secret("password"):
        form.errors.add("password", _("Enter your password."))
    if not form.errors:
        body = {"email": form.text("email"), "password": form.secret("password")}
        device = device_of(request.headers.get("User-Agent", ""))
        if device:
            body["device"] = device
        try:
            tokens = api.post("identity", "/auth/login", body, anonymous=True)
        except ApiProblem as problem:
            form.errors = form_errors(problem, EMAIL_FIELDS, {"email", "password"})
        else:
            auth.sign_in(tokens)
            target = pending_path() or safe_next(request.args.get("next")) or url_for("home.index")
            return redirect(target, 303)
    return render_template("accounts/login.html", form=form, ended=False, kept=bool(pending_path())), 422


@bp.post("/logout")
@public
def logout() -> Response:
    """End the session here and in identity (its tokens stop working in every service at once)."""
    if auth.current_user() and getattr(session, "store_key", None):
        from services.portal.client import ServiceUnavailable, SessionEnded

        try:
            api.post("identity", "/auth/logout", {})
        except (ApiProblem, SessionEnded, ServiceUnavailable):
            pass  # ended already, or identity away: the session here ends all the same
    resp = redirect(url_for("accounts.logged_out"), 303)
    current_app.session_interface.destroy(session._get_current_object(), resp)  # type: ignore[attr-defined]
    g.pop("portal_keeper", None)
    return resp


@bp.get("/logged-out")
@public
def logged_out() -> str:
    return render_template("accounts/logged_out.html")


# ---- forgotten password, reset and invitation links -----------------------------------------------


@bp.route("/account/forgot-password", methods=["GET", "POST"])
@public
def forgot() -> Any:
    if request.method == "GET":
        return render_template("accounts/forgot.html", form=FormState())
    form = FormState.from_request()
    form.require("email", message=_("Enter your e-mail address."))
    if not form.errors:
        try:
            api.post("identity", "/auth/password-reset", {"email": form.text("email")}, anonymous=True)
        except ApiProblem as problem:
            form.errors = form_errors(problem, EMAIL_FIELDS, {"email"})
        else:
            session["reset_sent_to"] = form.text("email")
            return redirect(url_for("accounts.forgot_sent"), 303)
    return render_template("accounts/forgot.html", form=form), 422


@bp.get("/account/forgot-password/sent")
@public
def forgot_sent() -> str:
    return render_template("accounts/forgot_sent.html", email=session.get("reset_sent_to", ""))


def _link_page(link_id: uuid.UUID, purpose: str) -> Any:
    """Set a password with an invitation or reset link. The secret leaves the address bar at once."""
    slot = f"link:{link_id}"
    if request.method == "GET" and request.args.get("token"):
        session[slot] = request.args["token"]
        return redirect(request.path, 303)
    token = session.get(slot, "")
    ref = {"link_id": str(link_id), "token": token}
    template = "accounts/invitation.html" if purpose == INVITATION else "accounts/reset.html"
    try:
        link = api.post("identity", "/auth/links/inspect", ref, anonymous=True) if token else None
    except ApiProblem as problem:
        if problem.status not in (404, 409, 410, 422):
            raise
        link = None
        broken = form_errors(problem).general
    else:
        broken = [] if link else [_("This link is not valid. Ask for a new one.")]
    if link is None or link["purpose"] != purpose:
        return render_template("accounts/link_broken.html", reasons=broken or [_("This link is not valid.")]), 410
    form = FormState()
    if request.method == "POST":
        form = FormState.from_request()
        password, again = form.secret("new_password"), form.secret("password_again")
        if not password:
            form.errors.add("new_password", _("Choose a password."))
        elif password != again:
            form.errors.add("password_again", _("The two passwords are not the same."))
        if not form.errors:
            try:
                api.post("identity", "/auth/links/complete", {**ref, "new_password": password}, anonymous=True)
            except ApiProblem as problem:
                form.errors = form_errors(problem, known_fields={"new_password", "password_again"})
            else:
                session.pop(slot, None)
                session["password_set"] = purpose
                return redirect(url_for("accounts.password_set"), 303)
    return render_template(template, form=form, link=link), 422 if form.errors else 200


@bp.route("/account/reset/<uuid:link_id>", methods=["GET", "POST"])
@public
def reset(link_id: uuid.UUID) -> Any:
    return _link_page(link_id, PASSWORD_RESET)


@bp.route("/account/invitation/<uuid:link_id>", methods=["GET", "POST"])
@public
def invitation(link_id: uuid.UUID) -> Any:
    return _link_page(link_id, INVITATION)


@bp.get("/account/password-set")
@public
def password_set() -> str:
    return render_template("accounts/password_set.html", purpose=session.get("password_set", PASSWORD_RESET))


# ---- a signed-in person's own account ----------------------------------------------------------------


@bp.route("/account/password", methods=["GET", "POST"])
@once
def change_password() -> Any:
    form = FormState()
    if request.method == "POST":
        form = FormState.from_request()
        current, new, again = (
            form.secret("current_password"),
            form.secret("new_password"),
            form.secret("password_again"),
        )
        if not current:
            form.errors.add("current_password", _("Enter your current password."))
        if not new:
            form.errors.add("new_password", _("Choose a new password."))
        elif new != again:
            form.errors.add("password_again", _("The two passwords are not the same."))
        if not form.errors:
            try:
                api.post("identity", "/auth/password", {"current_password": current, "new_password": new})
            except ApiProblem as problem:
                form.errors = form_errors(problem, known_fields={"current_password", "new_password"})
            else:
                session["banner"] = "password_changed"
                return redirect(url_for("accounts.details"), 303)
    return render_template("accounts/password.html", form=form), 422 if form.errors else 200


@bp.get("/account/sessions")
def sessions() -> str:
    found = api.get("identity", "/auth/sessions")
    return render_template("accounts/sessions.html", sessions=found, banner=session.pop("banner", None))


@bp.post("/account/sessions/<uuid:session_id>/end")
@once
def end_session(session_id: uuid.UUID) -> Response:
    api.delete("identity", f"/auth/sessions/{session_id}")
    session["banner"] = "session_ended"
    return redirect(url_for("accounts.sessions"), 303)


@bp.post("/account/sessions/end-others")
@once
def end_other_sessions() -> Response:
    ended = api.post("identity", "/auth/sessions/end-others", {})
    session["banner"] = "others_ended" if ended.get("ended") else "no_others"
    return redirect(url_for("accounts.sessions"), 303)


@bp.route("/account", methods=["GET", "POST"])
@once
def details() -> Any:
    banner = session.pop("banner", None)
    if request.method == "GET":
        # identity's word, not the session's copy (a name changed by an administrator, a session ended)
        me = api.get("identity", "/auth/me")
        auth.refresh_user({"full_name": me["full_name"], "language": me.get("language") or "lv"})
        user = auth.current_user() or {}
        form = FormState.initial({"full_name": user.get("full_name", ""), "language": user.get("language", "lv")})
        return render_template("accounts/details.html", form=form, banner=banner)
    form = FormState.from_request()
    form.require("full_name", message=_("Enter your name."))
    if form.value("language") not in LANGUAGES:
        form.errors.add("language", _("Choose a language."))
    if not form.errors:
        try:
            me = api.patch(
                "identity", "/auth/me", {"full_name": form.text("full_name"), "language": form.value("language")}
            )
        except ApiProblem as problem:
            form.errors = form_errors(problem, known_fields={"full_name", "language"})
        else:
            auth.refresh_user({"full_name": me["full_name"], "language": me["language"]})
            session["banner"] = "details_saved"
            return redirect(url_for("accounts.details"), 303)
    return render_template("accounts/details.html", form=form, banner=None), 422


# ---- language and the accessibility statement -------------------------------------------------------


@bp.post("/language")
@public
def language() -> Response:
    """Switch the language; remembered in a cookie, and in identity for a signed-in person."""
    chosen = request.form.get("language", "lv")
    if chosen not in LANGUAGES:
        chosen = "lv"
    if auth.current_user():
        try:
            api.patch("identity", "/auth/me", {"language": chosen})
        except ApiProblem:
            pass  # the cookie still remembers it here
        auth.refresh_user({"language": chosen})
    resp = redirect(safe_next(request.form.get("next")) or url_for("home.index"), 303)
    secure = current_app.extensions["portal.settings"].secure_cookies
    resp.set_cookie(COOKIE, chosen, max_age=365 * 24 * 3600, httponly=True, samesite="Lax", secure=secure)
    return resp


@bp.get("/accessibility")
@public
def accessibility() -> str:
    return render_template("accounts/accessibility.html")
