import pytest
from accounts.models import Notice, User
from blog.models import Post
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.test import Client
from newsletter.models import Subscriber


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_registered_user_reads_the_weekly_newsletter(client: Client) -> None:
    response = client.post("/accounts/register", {"username": "ada", "email": "ada@example.com"})

    assert response.status_code == 201
    subscriber = Subscriber.objects.get(email="ada@example.com")
    assert [n.slug for n in subscriber.newsletters.all()] == ["weekly"]
    assert Notice.objects.get(user_id=response.json()["id"]).text == "You read weekly"


@pytest.mark.django_db(databases="__all__")
def test_an_admin_puts_a_user_in_a_group() -> None:
    admin = User.objects.create_superuser("admin", "admin@example.com", "secret")
    user = User.objects.create(username="bob", email="bob@example.com")
    editors = Group.objects.create(name="editors")
    client = Client()
    client.force_login(admin)

    response = client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "username": "bob",
            "email": "bob@example.com",
            "groups": [editors.pk],
            "date_joined_0": "2024-01-01",
            "date_joined_1": "10:00:00",
            "initial-date_joined_0": "2024-01-01",
            "initial-date_joined_1": "10:00:00",
        },
    )

    assert response.status_code == 302, response.content
    assert list(User.objects.get(pk=user.pk).groups.all()) == [editors]
    assert LogEntry.objects.filter(object_id=str(user.pk)).exists()


@pytest.mark.django_db(databases="__all__")
def test_deleting_a_user_deletes_their_posts() -> None:
    user = User.objects.create(username="carol", email="carol@example.com")
    Post.objects.create(author=user, title="Mine")

    user.delete()

    assert not Post.objects.filter(title="Mine").exists()
