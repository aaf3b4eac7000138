"""Pages of a listing: every listing of the public API is paginated the one way, by cursor.

    @router.get("", response=list[OrderOut])
    @paginated("-created_at")
    def list_orders(request, ...) -> QuerySet[Order]: ...

answers `{"items": [...], "next": "<the URL of the next page, or null>"}` and takes `limit`
(at most MAX_PAGE_SIZE) and the `cursor` a previous page gave. Keyset pagination: the order
is the fields named plus the primary key, and a page starts after the last row of the page
before, so a page costs one indexed query however deep it is, and rows added meanwhile are
neither repeated nor skipped. The fields must not be null.
"""

import binascii
import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as InvalidValue
from django.db.models import Field as ModelField
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from ninja.errors import ValidationError
from ninja.pagination import PaginationBase, paginate
from pydantic import Field

from modulith.http.schemas import CamelSchema

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
CURSOR_MAX_LENGTH = 512


class CursorPagination(PaginationBase):
    """ninja's pagination interface, by keyset; `paginated()` is how a listing uses it."""

    items_attribute = "items"

    class Input(CamelSchema):
        limit: int = Field(
            PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="how many items a page holds"
        )
        cursor: str | None = Field(
            None,
            max_length=CURSOR_MAX_LENGTH,
            description="where the page starts: the cursor in the previous page's `next`",
        )

    class Output(CamelSchema):
        items: list[Any]
        next: str | None = Field(description="the URL of the next page; null on the last one")

    def __init__(self, *, ordering: Sequence[str], **kwargs: Any) -> None:
        if not ordering:
            raise ValueError("a paginated listing needs an ordering, e.g. paginated('-created_at')")
        self.ordering = tuple(ordering)
        super().__init__(**kwargs)

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        keys = _keys(queryset.model, self.ordering)
        ordered = queryset.order_by(*(key.order for key in keys))
        if pagination.cursor:
            ordered = ordered.filter(_after(keys, _decode(pagination.cursor, keys)))
        page = list(ordered[: pagination.limit + 1])
        items = page[: pagination.limit]
        more = len(page) > pagination.limit
        return {
            "items": items,
            "next": _next_url(request, _encode(items[-1], keys)) if more else None,
        }


def paginated(*ordering: str) -> Callable[[Callable[..., Any]], Any]:
    """Paginates a listing operation whose view returns a query set, in this order (Django's
    `order_by` notation: `-created_at` is newest first); the primary key breaks ties."""
    decorate: Callable[[Callable[..., Any]], Any] = paginate(CursorPagination, ordering=ordering)
    return decorate


@dataclass(frozen=True)
class _Key:
    field: "ModelField[Any, Any]"
    descending: bool

    @property
    def order(self) -> str:
        return f"-{self.field.name}" if self.descending else self.field.name

    def beyond(self, value: Any) -> Q:
        return Q(**{f"{self.field.name}__{'lt' if self.descending else 'gt'}": value})


def _keys(model: type[Model], ordering: Sequence[str]) -> list[_Key]:
    keys = [
        _Key(model._meta.get_field(name.lstrip("-")), name.startswith("-"))  # type: ignore[arg-type]
        for name in ordering
    ]
    pk = model._meta.pk
    assert pk is not None
    if all(key.field.name != pk.name for key in keys):
        keys.append(_Key(pk, keys[-1].descending))  # a total order: the same row never twice
    return keys


def _after(keys: Sequence[_Key], values: Sequence[Any]) -> Q:
    """Rows after `values` in the keys' order: (a > x) or (a = x and b > y) or ..."""
    after = Q(pk__in=[])
    for position, key in enumerate(keys):
        earlier = zip(keys[:position], values[:position], strict=True)
        same = Q(**{earlier_key.field.name: value for earlier_key, value in earlier})
        after |= same & key.beyond(values[position])
    return after


def _encode(item: Model, keys: Sequence[_Key]) -> str:
    values = [key.field.value_to_string(item) for key in keys]
    return urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str, keys: Sequence[_Key]) -> list[Any]:
    """The values a cursor holds, or a 422 naming the cursor: it is the client's input."""
    try:
        values = json.loads(urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError(cursor)
        if not all(isinstance(value, str) for value in values):
            raise ValueError(cursor)
        decoded = [key.field.to_python(value) for key, value in zip(keys, values, strict=True)]
        if any(value is None for value in decoded):
            raise ValueError(cursor)
        return decoded
    except (ValueError, binascii.Error, InvalidValue):
        raise ValidationError(
            [
                {
                    "loc": ("query", "cursor"),
                    "msg": "is not a cursor of this listing: use the `next` URL of a page, "
                    "or start again without a cursor",
                    "type": "value_error",
                }
            ]
        ) from None


def _next_url(request: HttpRequest, cursor: str) -> str:
    query = request.GET.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
