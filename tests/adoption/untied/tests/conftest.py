from typing import Any

import pytest
from newsletter.models import Newsletter


@pytest.fixture(autouse=True)
def _deliveries_before_the_response(settings: Any) -> None:
    """Events are handled in the thread that commits: a test sees their effects at once."""
    settings.MODULITH_ASYNC_HANDLERS = "inline"


@pytest.fixture
def weekly(db: None) -> Newsletter:
    return Newsletter.objects.get_or_create(slug="weekly", name="Weekly")[0]
