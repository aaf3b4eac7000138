"""The front door: the public API, the internal endpoints of query ports (never under /api/,
and signed), and the admin. Health checks and /metrics answer in a middleware."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from modulith.admin_views import module_map
from modulith.http import build_api

api = build_api(settings.MODULITH_TOPOLOGY, title="Modulith shop", version="1.0.0")

urlpatterns = [
    path("api/", api.urls),
    path("internal/", include("modulith.remote.urls")),
    path("admin/modulith/module-map/", module_map, name="modulith-module-map"),
    path("admin/", admin.site.urls),
]
