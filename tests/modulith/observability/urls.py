"""Routes of the orders module's shape, whose views log (what a handler logs in a request)
or break."""

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import path

log = logging.getLogger("shop.orders")


def trail(request: HttpRequest, order_id: str) -> HttpResponse:
    log.info("looked at the order")
    return HttpResponse("ok")


def search(request: HttpRequest) -> HttpResponse:
    log.info("searched the payments")
    return HttpResponse("ok")


def fail(request: HttpRequest, order_id: str) -> HttpResponse:
    raise RuntimeError("the view broke")


urlpatterns = [
    path("api/orders/<order_id>/trail", trail),
    path("api/payments/search", search),
    path("api/orders/<order_id>/fail", fail),
]
