from newsletter.models import Subscriber


class NewsletterQueriesImpl:
    def subscribed_accounts(self, newsletter: str) -> list[int]:
        readers = Subscriber.objects.filter(newsletters__slug=newsletter, account_id__isnull=False)
        return sorted(set(readers.values_list("account_id", flat=True)))
