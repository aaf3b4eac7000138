from django.http import HttpRequest, JsonResponse
from newsletter.models import Newsletter

from blog.models import Post, Tag


def front_page(request: HttpRequest) -> JsonResponse:
    """The posts of the authors who read the weekly newsletter."""
    weekly = Newsletter.objects.get(slug="weekly")
    posts = Post.objects.filter(author__subscriptions__newsletters=weekly).order_by("pk")
    return JsonResponse({"posts": [post.title for post in posts.distinct()]})


def post_create(request: HttpRequest) -> JsonResponse:
    post = Post.objects.create(author_id=request.POST["author"], title=request.POST["title"])
    for name in request.POST.getlist("tag"):
        post.tags.add(Tag.objects.get(name=name))  # an unknown tag: the request rolls back
    return JsonResponse({"id": post.pk}, status=201)
