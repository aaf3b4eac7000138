from blog.models import Post, Tag
from django.http import HttpRequest, JsonResponse

from contracts.newsletter import NewsletterQueries
from modulith.ports import query_port


def front_page(request: HttpRequest) -> JsonResponse:
    """The posts of the authors who read the weekly newsletter, asked of newsletter."""
    readers = query_port(NewsletterQueries).subscribed_accounts("weekly")
    posts = Post.objects.filter(author_id__in=readers).order_by("pk")
    return JsonResponse({"posts": [post.title for post in posts]})


def post_create(request: HttpRequest) -> JsonResponse:
    post = Post.objects.create(author_id=request.POST["author"], title=request.POST["title"])
    for name in request.POST.getlist("tag"):
        post.tags.add(Tag.objects.get(name=name))  # an unknown tag: the request rolls back
    return JsonResponse({"id": post.pk}, status=201)
