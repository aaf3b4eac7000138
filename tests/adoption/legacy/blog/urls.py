from django.urls import path

from blog import views

urlpatterns = [path("", views.front_page), path("posts", views.post_create)]
