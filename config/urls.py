"""The front door: the framework's URLs (the public API under /api/, the signed internal
endpoints of query ports under /internal/, the admin's module map), then the admin. Health
checks and /metrics answer in a middleware."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("modulith.urls")),
    path("admin/", admin.site.urls),
]
