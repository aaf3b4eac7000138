"""Internal endpoints, to be included under /internal/ (never under /api/). Every path under it
reaches the one view, which checks the signature before it looks at the path or the method:
an unsigned call learns nothing, not even which paths would exist."""

from django.urls import path

from modulith.http.internal import internal_call

urlpatterns = [path("<path:target>", internal_call, name="modulith-internal-call")]
