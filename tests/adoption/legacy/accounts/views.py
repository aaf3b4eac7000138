from django.http import HttpRequest, JsonResponse

from accounts.models import User


def register(request: HttpRequest) -> JsonResponse:
    user = User.objects.create_user(
        username=request.POST["username"], email=request.POST["email"], password="not-used"
    )
    return JsonResponse({"id": user.pk}, status=201)
