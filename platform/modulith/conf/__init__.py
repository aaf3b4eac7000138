"""Configuration: what a project's settings module calls (the deployment, the middleware, the
logging, the security settings, values from the environment), and the framework's own settings
object."""

from modulith.conf.deployment import (
    Deployment,
    database_variable,
    deployment,
    load_topology,
    on_lambda,
    running_modules,
)
from modulith.conf.environment import (
    env_bool,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_duration,
)
from modulith.conf.logs import logging_config
from modulith.conf.middleware import middleware
from modulith.conf.security import security_settings
from modulith.conf.settings import (
    DiscoveryKind,
    HandlerMode,
    ModulithSettings,
    TransportName,
    affects_settings,
    modulith_settings,
    refuse_development_key,
    reload_settings,
)

__all__ = [
    "Deployment",
    "DiscoveryKind",
    "HandlerMode",
    "ModulithSettings",
    "TransportName",
    "affects_settings",
    "database_variable",
    "deployment",
    "env_bool",
    "env_duration",
    "env_float",
    "env_int",
    "env_list",
    "env_str",
    "load_topology",
    "logging_config",
    "middleware",
    "modulith_settings",
    "on_lambda",
    "parse_duration",
    "refuse_development_key",
    "reload_settings",
    "running_modules",
    "security_settings",
]
