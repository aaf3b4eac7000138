"""The admin of the framework's tables: outbox events, deliveries, dead letters, inbox records
and handling failures.

These tables exist once in every module database and have no route, so each page shows one
module's copy: the one named by `?module=<name>` (carried along to detail pages by the admin's
preserved filters), else the first module running in this process. The pages are read-only;
dead letters can be replayed. Scheduled events show when they are due and their key, and the
lists of events and deliveries filter those still waiting for their time and those cancelled.
Ordered deliveries show their key; the list filters the keys' blocked deliveries and those
that block them, and a blocked delivery's page names what it waits behind.
"""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import Exists, Q, QuerySet
from django.db.models.functions import Now
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator, capfirst

from modulith.aws.models import HandlingFailure
from modulith.database.store.models import (
    DeadLetter,
    Delivery,
    DeliveryStatus,
    InboxRecord,
    OutboxEvent,
)
from modulith.database.store.ownership import deliveries_of, events_of, records_of
from modulith.modules import Module
from modulith.runtime import runtime

if TYPE_CHECKING:
    ModelAdminBase = admin.ModelAdmin[Any]
    TabularInlineBase = admin.TabularInline[Any, Any]
else:
    ModelAdminBase = admin.ModelAdmin
    TabularInlineBase = admin.TabularInline

MODULE_PARAM = "module"
PRESERVED_FILTERS = "_changelist_filters"  # how the admin carries a list's filters to details


def selected_module(request: HttpRequest) -> Module:
    """The running module whose database this admin page shows."""
    name = request.GET.get(MODULE_PARAM)
    if name is None:
        name = QueryDict(request.GET.get(PRESERVED_FILTERS, "")).get(MODULE_PARAM)
    running = runtime().topology.running_modules
    if not running:
        raise Http404("no module runs in this process")
    if name is None:
        return running[0]
    for module in running:
        if module.name == name:
            return module
    raise Http404(f"no module named {name!r} runs in this process")


def module_of_event(event: OutboxEvent) -> Module:
    """The running module whose outbox holds this event: in a database modules share, the
    one that published it."""
    here = [m for m in runtime().topology.running_modules if m.database == event._state.db]
    for module in here:
        if module.source == event.source or not module.shares_database:
            return module
    if here:
        return here[0]
    raise LookupError(f"no running module has the database {event._state.db!r}")


def detail_url(event: OutboxEvent, site: admin.AdminSite) -> str:
    """The admin page of an outbox event, in the module database it was read from."""
    opts = event._meta
    url = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(event.pk)])
    module = module_of_event(event)
    return f"{url}?{urlencode({PRESERVED_FILTERS: urlencode({MODULE_PARAM: module.name})})}"


def pretty_json(value: Any) -> SafeString:
    return format_html(
        '<pre class="modulith-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False)
    )


def preformatted(text: str) -> SafeString:
    return format_html('<pre class="modulith-text">{}</pre>', text or "-")


class ReadOnly:
    """For models only a module's services may change: a change by hand would skip the events
    the other modules wait for. Mix it in before the admin or inline class."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ModuleDatabaseFilter(admin.SimpleListFilter):
    """Chooses the module database a list shows. It filters nothing itself: the admin's
    queryset already reads the chosen database."""

    title = "module database"
    parameter_name = MODULE_PARAM

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(m.name, m.name) for m in runtime().topology.running_modules]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset

    def choices(self, changelist: Any) -> Any:  # no "All": one database at a time
        current = selected_module(self.request).name
        for name, label in self.lookup_choices:
            yield {
                "selected": name == current,
                "query_string": changelist.get_query_string({self.parameter_name: name}),
                "display": label,
            }


class ModuleDatabaseAdmin(ReadOnly, ModelAdminBase):
    """A read-only admin of a framework table, showing one module database's copy of it."""

    show_facets = admin.ShowFacets.NEVER  # a count per module would read one database only
    list_per_page = 50
    change_form_template = "modulith/admin/change_form.html"
    # The module's rows of this table, in a database modules share (all, in its own).
    owned: Callable[[Module], Q] = staticmethod(events_of)

    class Media:
        css = {"all": ("modulith/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        module = selected_module(request)
        return super().get_queryset(request).using(module.database).filter(self.owned(module))

    def get_list_filter(self, request: HttpRequest) -> Any:
        return (ModuleDatabaseFilter, *super().get_list_filter(request))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        module = selected_module(request)
        title = f"{capfirst(self.opts.verbose_name_plural)} of the {module.name} module"
        return super().changelist_view(
            request, {"title": title, "module_name": module.name, **(extra_context or {})}
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        module = selected_module(request)
        title = f"{capfirst(self.opts.verbose_name)} of the {module.name} module"
        return super().change_view(
            request,
            object_id,
            form_url,
            {"title": title, "module_name": module.name, **(extra_context or {})},
        )


# The deliveries of scheduled events, by what became of them.
SCHEDULED = {
    "waiting": (
        "scheduled, not due yet",
        Q(status=DeliveryStatus.PENDING, cancellable=True, next_attempt_at__gt=Now()),
    ),
    # What the lateness gauge measures: past their time, not delivered yet.
    "due": (
        "due, not delivered yet",
        Q(status=DeliveryStatus.PENDING, event__deliver_at__lte=Now()),
    ),
    "cancelled": ("cancelled", Q(status=DeliveryStatus.CANCELLED)),
    "any": ("every scheduled one", Q(event__deliver_at__isnull=False)),
}


class ScheduledFilter(admin.SimpleListFilter):
    """Scheduled deliveries (or events) still waiting for their time, past it and not
    delivered yet, cancelled, or all."""

    title = "schedule"
    parameter_name = "scheduled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, label) for value, (label, _) in SCHEDULED.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = SCHEDULED.get(self.value() or "")
        if chosen is None:
            return queryset
        deliveries = chosen[1]
        if queryset.model is not OutboxEvent:
            return queryset.filter(deliveries)
        if self.value() == "any":  # an event nobody subscribes to has no delivery
            return queryset.filter(deliver_at__isnull=False)
        # Events with such a delivery, each once.
        return queryset.filter(pk__in=Delivery.objects.filter(deliveries).values("event_id"))


class KeyOrderFilter(admin.SimpleListFilter):
    """Ordered deliveries waiting behind an earlier one of their route and key, and those
    earlier ones that hold their keys back (pending, retried, or dead)."""

    title = "per-key order"
    parameter_name = "order"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("blocked", "blocked behind an earlier one"), ("blocking", "blocking their key")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        order = runtime().relay.claims.order
        if self.value() == "blocked":
            return queryset.filter(
                Exists(order.earlier_in_the_way()),
                status=DeliveryStatus.PENDING,
                ordering_key__isnull=False,
            )
        if self.value() == "blocking":
            return queryset.filter(order.holding_back())
        return queryset


class DeliveryInline(ReadOnly, TabularInlineBase):
    """The deliveries of an outbox event, read from the event's module database."""

    model = Delivery
    fields = readonly_fields = (
        "route",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "dead_at",
        "cancelled_at",
        "last_error",
    )
    extra = 0
    can_delete = False
    show_change_link = False  # Django's link would not say which module database

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).using(selected_module(request).database)


# What the list and the page of an outbox event both show, after its name and id.
EVENT_COLUMNS = (
    "source",
    "occurred_at",
    "deliver_at",
    "schedule_key",
    "trace_id",
    "created_at",
)


class OutboxEventAdmin(ModuleDatabaseAdmin):
    list_display = ("event_name", "id", *EVENT_COLUMNS)
    list_filter = (ScheduledFilter, "event_name", "source")
    search_fields = ("event_name", "trace_id", "id", "schedule_key")
    ordering = ("-created_at",)
    fields = readonly_fields = ("id", "event_name", *EVENT_COLUMNS, "wire_json")
    inlines = (DeliveryInline,)

    @admin.display(description="wire form")
    def wire_json(self, event: OutboxEvent) -> SafeString:
        return pretty_json(event.wire)


class DeliveryDetails(ModuleDatabaseAdmin):
    """What the pages of deliveries and dead letters show of a delivery and its event."""

    owned = staticmethod(deliveries_of)

    list_select_related = ("event",)
    search_fields = ("event__event_name", "route", "last_error", "ordering_key")

    @admin.display(description="event", ordering="event__event_name")
    def event_name(self, delivery: Delivery) -> str:
        return delivery.event.event_name

    @admin.display(description="event")
    def event_link(self, delivery: Delivery) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>', detail_url(delivery.event, self.admin_site), delivery.event
        )

    @admin.display(description="last error")
    def error(self, delivery: Delivery) -> SafeString:
        return preformatted(delivery.last_error)

    @admin.display(description="event on the wire")
    def wire_json(self, delivery: Delivery) -> SafeString:
        return pretty_json(delivery.event.wire)

    @admin.display(description="blocked behind")
    def blocked_behind(self, delivery: Delivery) -> SafeString | str:
        """The earlier delivery of its key it waits for, with why that one has not gone."""
        blocker = runtime().relay.claims.order.held_back_by(delivery._state.db or "", delivery)
        if blocker is None:
            return "-"
        admin_name = "deadletter" if blocker.status == DeliveryStatus.DEAD else "delivery"
        url = reverse(
            f"{self.admin_site.name}:modulith_{admin_name}_change", args=[quote(blocker.pk)]
        )
        module = module_of_event(delivery.event).name
        return format_html(
            '<a href="{}?{}">#{}</a> ({}, {} attempt(s)){}',
            url,
            urlencode({PRESERVED_FILTERS: urlencode({MODULE_PARAM: module})}),
            blocker.pk,
            blocker.status,
            blocker.attempts,
            f": {Truncator(blocker.last_error).chars(200)}" if blocker.last_error else "",
        )


class DeliveryAdmin(DeliveryDetails):
    list_display = (
        "id",
        "event_name",
        "route",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "dead_at",
        "cancelled_at",
        "ordering_key",
    )
    list_display_links = ("id", "event_name")
    list_filter = ("status", ScheduledFilter, KeyOrderFilter, "route")
    ordering = ("-id",)
    fields = readonly_fields = (
        "event_link",
        "route",
        "status",
        "ordering_key",
        "blocked_behind",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "dead_at",
        "cancellable",
        "cancelled_at",
        "updated_at",
        "error",
        "wire_json",
    )


class DeadLetterAdmin(DeliveryDetails):
    """Deliveries that ran out of attempts, with the replay action (and a button on each)."""

    list_display = (
        "id",
        "event_name",
        "route",
        "ordering_key",
        "attempts",
        "dead_at",
        "short_error",
    )
    list_filter = ("route", KeyOrderFilter)
    ordering = ("-dead_at", "-id")
    fields = readonly_fields = (
        "event_link",
        "route",
        "ordering_key",
        "attempts",
        "dead_at",
        "error",
        "wire_json",
    )
    actions = ("replay",)
    change_form_template = "modulith/admin/deadletter_change_form.html"

    @admin.display(description="last error")
    def short_error(self, letter: DeadLetter) -> str:
        return Truncator(letter.last_error).chars(120)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Replay the selected dead letters", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Like `manage.py deadletters replay --id ...`: every place that keeps dead letters
        replays those it knows by these ids (here, the outbox's)."""
        module = selected_module(request)
        ids = {str(pk) for pk in queryset.values_list("pk", flat=True)}
        done = [
            replayed
            for place in runtime().dead_letters
            if (replayed := place.replay(module, ids)).count
        ]
        if not done:
            message = f"{module.name}: none of the selected dead letters is dead any more."
            self.message_user(request, message, messages.WARNING)
        for replayed in done:
            message = f"{module.name}: {replayed.summary}."
            if replayed.last_error:
                message += f" Last error: {Truncator(replayed.last_error).chars(300)}"
            level = messages.SUCCESS if replayed.complete else messages.WARNING
            self.message_user(request, message, level)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        changelist = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"
        )
        module = selected_module(request)
        context = {
            "can_replay": self.has_replay_permission(request),
            "replay_url": f"{changelist}?{urlencode({MODULE_PARAM: module.name})}",
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)


class InboxRecordAdmin(ModuleDatabaseAdmin):
    owned = staticmethod(records_of)
    list_display = ("event_name", "event_id", "subscriber", "handled_at")
    list_filter = ("subscriber", "event_name")
    search_fields = ("event_name", "event_id")
    ordering = ("-handled_at",)


class HandlingFailureAdmin(ModuleDatabaseAdmin):
    owned = staticmethod(records_of)
    list_display = ("event_name", "event_id", "subscriber", "attempts", "last_failed_at")
    list_filter = ("subscriber", "event_name")
    search_fields = ("event_name", "event_id", "last_error")
    ordering = ("-last_failed_at",)
    fields = readonly_fields = (
        "event_id",
        "event_name",
        "subscriber",
        "attempts",
        "last_failed_at",
        "error",
    )

    @admin.display(description="last error")
    def error(self, failure: HandlingFailure) -> SafeString:
        return preformatted(failure.last_error)


def register_framework_admin(site: admin.AdminSite) -> None:
    """Registers the framework's tables on `site`, and links the module map from its index
    (unless the project chose an index template of its own)."""
    site.register(OutboxEvent, OutboxEventAdmin)
    site.register(Delivery, DeliveryAdmin)
    site.register(DeadLetter, DeadLetterAdmin)
    site.register(InboxRecord, InboxRecordAdmin)
    site.register(HandlingFailure, HandlingFailureAdmin)
    if site.index_template is None:
        site.index_template = "modulith/admin/index.html"
