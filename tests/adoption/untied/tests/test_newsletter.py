import pytest
from newsletter.models import Newsletter, Subscriber


@pytest.mark.django_db(databases="__all__")
def test_a_subscriber_reads_several_newsletters() -> None:
    weekly = Newsletter.objects.create(slug="weekly", name="Weekly")
    monthly = Newsletter.objects.create(slug="monthly", name="Monthly")
    subscriber = Subscriber.objects.create(email="gus@example.com")

    subscriber.newsletters.set([weekly, monthly])

    assert set(weekly.subscribers.all()) == set(monthly.subscribers.all()) == {subscriber}
