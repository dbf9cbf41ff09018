"""The Jinja environment over templates/ and the write that keeps unchanged files' mtimes."""

from __future__ import annotations

from pathlib import Path

import jinja2

from mcubench.core.fileio import write_text_atomic
from mcubench.core.paths import templates_dir


def template_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # HTML pages escape every value; C, ini, Python and Renode sources are not HTML
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
    )


def write_if_changed(path: Path, text: str) -> bool:
    """Writes only when the content differs, so unchanged files keep their mtime."""
    if path.is_file() and path.read_text() == text:
        return False
    write_text_atomic(path, text)
    return True
