"""The front door: the public API, health checks and the admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

from contracts.errors import ProviderError, ProviderUnavailable
from modulith.http import build_api
from modulith.http.health import live, ready

api = build_api(
    settings.MODULITH_TOPOLOGY,
    title="Modulith shop",
    version="1.0.0",
    statuses={
        ProviderUnavailable: (503, "provider_unavailable"),
        ProviderError: (502, "provider_error"),
    },
)

urlpatterns = [
    path("api/", api.urls),
    path("health/live", live, name="health-live"),
    path("health/ready", ready, name="health-ready"),
    path("admin/", admin.site.urls),
]
