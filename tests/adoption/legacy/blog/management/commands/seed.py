"""The project's data, as years of use left it: users with groups and permissions, posts with
tags and comments, newsletters and their subscribers. (Run once, before the project adopts
modulith: it writes the tables as they were then.)"""

from typing import Any

from accounts.models import User
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from newsletter.models import Newsletter, Subscriber

from blog.models import Comment, Post, Tag


class Command(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--subscribers", type=int, default=500)

    @transaction.atomic
    def handle(self, *args: Any, subscribers: int, **options: Any) -> None:
        editors = Group.objects.create(name="editors")
        editors.permissions.set(Permission.objects.filter(codename__endswith="_post"))
        readers = Group.objects.create(name="readers")
        weekly = Newsletter.objects.create(slug="weekly", name="Weekly")
        monthly = Newsletter.objects.create(slug="monthly", name="Monthly")
        tags = Tag.objects.bulk_create(Tag(name=f"tag-{n}") for n in range(10))
        users = []
        for n in range(40):
            user = User.objects.create(username=f"user{n}", email=f"user{n}@example.com")
            user.groups.set([editors] if n % 3 == 0 else [readers])
            if n % 5 == 0:
                user.user_permissions.set(Permission.objects.filter(codename="view_user"))
            users.append(user)
        for n in range(120):
            post = Post.objects.create(author=users[n % len(users)], title=f"Post {n}")
            post.tags.set(tags[n % 3 : n % 3 + 3])
        posts = ContentType.objects.get_for_model(Post)
        Comment.objects.bulk_create(
            Comment(content_type=posts, object_id=post.pk, text=f"On {post.title}")
            for post in Post.objects.all()[:60]
        )
        for n in range(subscribers):
            user = users[n] if n < len(users) else None
            subscriber = Subscriber.objects.create(email=f"reader{n}@example.com", user=user)
            subscriber.newsletters.set([weekly, monthly] if n % 2 else [weekly])
        self.stdout.write(
            f"seeded {User.objects.count()} users, {Subscriber.objects.count()} subscribers"
        )
