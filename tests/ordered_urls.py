"""The project's URLs and one more, for the web processes of the ordering tests:
`POST /prices/<sku>/<sequence>` publishes `PriceChanged` in a transaction of the publisher and
answers 201 once it committed (its deliveries then run in the process's delivery threads)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tests.ordered_events import publish_changes


@csrf_exempt  # a test's client, not a browser
@require_POST
def price_changed(request: HttpRequest, sku: str, sequence: int) -> HttpResponse:
    publish_changes((sku, sequence))
    return HttpResponse(status=201)


urlpatterns = [
    path("prices/<str:sku>/<int:sequence>", price_changed),
    path("", include("config.urls")),
]
