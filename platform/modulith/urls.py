"""The framework's URLs, for the project to include at its root:

    urlpatterns = [path("", include("modulith.urls")), path("admin/", admin.site.urls)]

- `api/`: the public API, each running module's router under its name (title and version
  from MODULITH_API_TITLE and MODULITH_API_VERSION), its OpenAPI schema and docs; any other
  path under it is the API's JSON 404;
- `internal/`: the signed endpoints of the query ports this process provides (never under
  `api/`: the front door does not route them);
- `admin/modulith/module-map/`: the module map, when django.contrib.admin is installed (it
  must come before the admin's own URLs, which end in a catch-all).

Health checks and /metrics answer in a middleware, ahead of URL resolution.
"""

from django.apps import apps
from django.urls import URLPattern, URLResolver, include, path, re_path

from modulith.admin.views import module_map
from modulith.conf import modulith_settings
from modulith.http import build_api
from modulith.http.errors import api_not_found

_settings = modulith_settings()
api = build_api(_settings.topology, title=_settings.api_title, version=_settings.api_version)

urlpatterns: list[URLPattern | URLResolver] = [
    # The API's root names nothing: ninja's own view there is a 404 that, with DEBUG on, is
    # Django's page listing every URL pattern.
    path("api/", api_not_found),
    path("api/", api.urls),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
    path("internal/", include("modulith.http.internal_urls")),
]
if apps.is_installed("django.contrib.admin"):
    urlpatterns.append(path("admin/modulith/module-map/", module_map, name="modulith-module-map"))
