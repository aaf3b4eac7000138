"""Admin pages that belong to no model: the module map, mounted by `modulith.urls` (which a
project includes before the admin's own URLs, which end in a catch-all)."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from modulith.modules.map import mermaid, text
from modulith.runtime import runtime


@staff_member_required
def module_map(request: HttpRequest) -> HttpResponse:
    """The modules, the events each publishes and who subscribes, and the query ports between
    them: drawn in the browser by the vendored Mermaid, and as text."""
    topology = runtime().topology
    context = {
        **admin.site.each_context(request),
        "title": "Module map",
        "mermaid_source": mermaid(topology),
        "text": text(topology),
        "running": [module.name for module in topology.running_modules],
    }
    return TemplateResponse(request, "modulith/admin/module_map.html", context)
