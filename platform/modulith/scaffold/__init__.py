"""Scaffolding a module (`manage.py startmodule`): the code of a working module, and the
edits that make it part of the application; or, for one of the project's apps, its manifest.

A new module gets its manifest, app, model, services, queries, router, handlers, migration
and tests, a contracts file with an event it publishes and the query port it provides, a line
in the settings' MODULITH_MANIFESTS (the composition root) and a place in the import-linter
independence contract. The migration, the stored event schemas and the module map are then
produced by the project's own commands, in a separate process that sees the new module. Either
everything is done or nothing is: a failing step undoes the others.

The code is rendered from the templates in `scaffold_templates/`, already in the project's
style (ruff, line length 100), so a new module passes the same checks as the others.
"""

from modulith.scaffold.creation import Scaffolded, create
from modulith.scaffold.errors import ScaffoldError
from modulith.scaffold.existing import adopt_app
from modulith.scaffold.names import Names, default_model
from modulith.scaffold.places import new_module_places
from modulith.scaffold.pyproject_edit import add_to_independence
from modulith.scaffold.rendering import render
from modulith.scaffold.request import Plan, plan
from modulith.scaffold.settings_edit import add_manifest

__all__ = [
    "Names",
    "Plan",
    "ScaffoldError",
    "Scaffolded",
    "add_manifest",
    "add_to_independence",
    "adopt_app",
    "create",
    "default_model",
    "new_module_places",
    "plan",
    "render",
]
