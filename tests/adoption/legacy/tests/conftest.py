import pytest
from newsletter.models import Newsletter


@pytest.fixture
def weekly(db: None) -> Newsletter:
    return Newsletter.objects.get_or_create(slug="weekly", name="Weekly")[0]
