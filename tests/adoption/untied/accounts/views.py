from accounts.services import user_register
from django.http import HttpRequest, JsonResponse


def register(request: HttpRequest) -> JsonResponse:
    user = user_register(username=request.POST["username"], email=request.POST["email"])
    return JsonResponse({"id": user.pk}, status=201)
