"""The public API: one NinjaAPI, each running module's router mounted under its name.

Every operation needs an API key (`X-API-Key`) unless it says otherwise (`auth=None`): what
a key may read is in the OpenAPI schema, each operation with its security. Bodies are JSON.
"""

from ninja import NinjaAPI

from modulith.http.auth import ApiKey
from modulith.http.errors import install_error_handlers
from modulith.modules import Topology
from modulith.modules.checks.imports import API, require


def build_api(topology: Topology, *, title: str, version: str) -> NinjaAPI:
    api = NinjaAPI(title=title, version=version, urls_namespace="api", auth=ApiKey())
    install_error_handlers(api)
    for module in topology.running_modules:
        if module.api:
            router = require(module, "serves its API from", module.api, API)
            api.add_router(f"/{module.name}", router, tags=[module.name])
    return api
