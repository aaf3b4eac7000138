from django.apps import AppConfig
from django.test.signals import setting_changed


class ModulithConfig(AppConfig):
    """The framework's own tables (outbox, deliveries, inbox) live in every module database."""

    name = "modulith"
    verbose_name = "Event bus"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from modulith import excepthook
        from modulith.bootstrap import build_runtime, settings_changed
        from modulith.checks import register_checks
        from modulith.conf import modulith_settings, on_lambda
        from modulith.embedded_relay import start_with_first_request
        from modulith.observability import emf
        from modulith.runtime import install

        excepthook.install()
        register_checks()
        current = modulith_settings()  # loaded and checked here, once: a bad value stops start
        install(build_runtime(current))
        # A Lambda function flushes its metrics at the end of each invocation instead.
        interval = None if on_lambda() else current.metrics_emf_interval
        emf.configure(enabled=current.metrics_emf, interval=interval)
        setting_changed.connect(settings_changed, dispatch_uid="modulith-runtime")
        if current.embedded_relay:
            start_with_first_request()  # only a process that serves requests runs the relay
