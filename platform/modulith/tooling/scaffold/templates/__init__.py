"""The templates of a module's files (`*.tmpl`, beside this file)."""

from importlib.resources import files
from string import Template

TEMPLATES = files(__name__)


def template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.tmpl").read_text(encoding="utf-8"))
