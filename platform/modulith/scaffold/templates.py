"""The templates of a module's files, in `modulith/scaffold_templates/`."""

from importlib.resources import files
from string import Template

TEMPLATES = files("modulith") / "scaffold_templates"


def template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.tmpl").read_text(encoding="utf-8"))
