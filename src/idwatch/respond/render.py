"""Render notices with the Jinja2 templates shipped in ``idwatch/respond/templates``.

Wording lives in the templates, not in code, so a deployment can review it in one place.
Every rendered message is checked for links: a notice that asks people to click is exactly
what a phishing message looks like, so a template that adds one fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from idwatch.respond.plan import Notice

_LINK = re.compile(r"https?://|www\.|<a\s", re.IGNORECASE)
_STAGE_WORDS = {"compromised": "compromised", "attacked": "targeted", "probed": "probed"}


@dataclass(frozen=True)
class Rendered:
    """A notice in its three forms: subject, plain text, HTML."""

    subject: str
    text: str
    html: str


def _when(value: Any) -> str:
    if not value:
        return "an unknown time"
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return dt.strftime("%d %B %Y, %H:%M UTC")


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("idwatch.respond", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    env.filters["stage_word"] = lambda s: _STAGE_WORDS.get(str(s), str(s))
    return env


_ENV = _env()


def render(notice: Notice) -> Rendered:
    """Subject, text and HTML of a notice; refuses output that contains a link."""
    ctx = dict(notice.context, key=notice.key)
    subject = " ".join(_ENV.get_template(f"{notice.audience}_subject.txt.j2").render(ctx).split())
    ctx["subject"] = subject
    text = _ENV.get_template(f"{notice.audience}.txt.j2").render(ctx)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    html = _ENV.get_template(f"{notice.audience}.html.j2").render(ctx)
    for part in (subject, text, html):
        if _LINK.search(part):
            raise ValueError(f"notice {notice.key} would contain a link; notices must never carry links")
    return Rendered(subject, text, html)


def to_email(notice: Notice, rendered: Rendered, sender: str, *, now: datetime) -> EmailMessage:
    """A multipart/alternative mail; the notification key is in a header so receivers can dedupe."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = notice.address
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now)
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "idwatch.invalid"
    msg["Message-ID"] = make_msgid(idstring=notice.key, domain=domain)
    msg["X-Idwatch-Notification-Key"] = notice.key
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


def to_json(notice: Notice, rendered: Rendered) -> dict[str, Any]:
    """The webhook / outbox JSON form of a notice."""
    return {
        "type": "idwatch.notification",
        "version": 1,
        "key": notice.key,
        "audience": notice.audience,
        "tenant": notice.tenant,
        "to": notice.address,
        "why": notice.why,
        "campaigns": notice.campaigns,
        "subject": rendered.subject,
        "text": rendered.text,
        "data": {k: v for k, v in notice.context.items() if k != "provider"},
    }
