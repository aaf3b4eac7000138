from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "newsletter"

    def ready(self) -> None:
        from newsletter import signals  # noqa: F401  (connects the receivers)
