"""The project's settings with the modules of `tests.ordered_events` in place of the shop's
manifests (the same apps and databases): a process started on them
(`DJANGO_SETTINGS_MODULE=tests.ordered_settings`) publishes and handles the ordered event."""

from config.settings import *  # noqa: F403  (the project's settings, but for the manifests)

MODULITH_MANIFESTS = [
    "tests.ordered_events.publishing",
    "tests.ordered_events.waiting",
    "tests.ordered_events.skipping",
]
ROOT_URLCONF = "tests.ordered_urls"  # the project's, and one that publishes the ordered event
