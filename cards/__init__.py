"""Card templates (Jinja2), shipped inside the wheel.

`render("dataset_card.md.j2", **context)` renders a template from this package. Templates live
next to this file so a non-editable install carries them.
"""

from __future__ import annotations

from typing import Any

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("dataigm.cards", "."),
    undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty line in a card
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template_name: str, **context: Any) -> str:
    return _ENV.get_template(template_name).render(**context)


def template_names() -> list[str]:
    return sorted(_ENV.list_templates(extensions=["j2"]))
