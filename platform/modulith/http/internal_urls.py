"""Internal endpoints, to be included under /internal/ (never under /api/)."""

from django.urls import path

from modulith.http.internal import internal_call

urlpatterns = [
    path("<str:module>/<str:port>/<str:method>", internal_call, name="modulith-internal-call"),
]
