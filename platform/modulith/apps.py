from django.apps import AppConfig
from django.test.signals import setting_changed

from modulith.checks import register_checks


class ModulithConfig(AppConfig):
    """The framework's own tables (outbox, deliveries, inbox) live in every module database."""

    name = "modulith"
    verbose_name = "Event bus"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from modulith import excepthook
        from modulith.bootstrap import build_runtime, settings_changed
        from modulith.runtime import install

        excepthook.install()
        register_checks()
        install(build_runtime())
        setting_changed.connect(settings_changed, dispatch_uid="modulith-runtime")
