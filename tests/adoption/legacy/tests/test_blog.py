import pytest
from accounts.models import User
from blog.models import Post, Tag
from django.test import Client
from newsletter.models import Newsletter, Subscriber


def test_the_front_page_shows_the_posts_of_weekly_readers(weekly: Newsletter) -> None:
    reader = User.objects.create(username="dan", email="dan@example.com")
    other = User.objects.create(username="eve", email="eve@example.com")
    Subscriber.objects.filter(user=other).delete()
    Post.objects.create(author=reader, title="Read")
    Post.objects.create(author=other, title="Unread")

    response = Client().get("/")

    assert response.json() == {"posts": ["Read"]}


@pytest.mark.django_db
def test_a_post_with_an_unknown_tag_leaves_nothing_behind() -> None:
    author = User.objects.create(username="fay", email="fay@example.com")
    Tag.objects.create(name="django")
    client = Client(raise_request_exception=False)

    response = client.post("/posts", {"author": author.pk, "title": "T", "tag": ["django", "nope"]})

    assert response.status_code == 500
    assert not Post.objects.filter(title="T").exists()
