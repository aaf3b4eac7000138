"""Model signals connected across module lines: a receiver in one unit of a model signal sent
by another's model. It runs only where both run, in one process and with one transaction:
once the sender leaves, the receiver is silently never called. An event replaces it."""

import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db.models import Model, signals
from django.dispatch import Signal

from modulith.modules import Topology
from modulith.readiness.ties import Tie
from modulith.readiness.units import unit_of_path

MODEL_SIGNALS: dict[str, Signal] = {
    "pre_init": signals.pre_init,
    "post_init": signals.post_init,
    "pre_save": signals.pre_save,
    "post_save": signals.post_save,
    "pre_delete": signals.pre_delete,
    "post_delete": signals.post_delete,
    "m2m_changed": signals.m2m_changed,
}
# What a module would publish in place of each signal.
EVENT_SUFFIX = {"pre_delete": "Deleted", "post_delete": "Deleted", "m2m_changed": "Changed"}
# Receivers of the framework's and Django's own are not the project's coupling.
OWN_CODE = ("django.", "modulith.")


def signal_ties(topology: Topology) -> list[Tie]:
    ties: set[Tie] = set()
    models = {id(model): model for model in apps.get_models(include_auto_created=True)}
    for name, signal in MODEL_SIGNALS.items():
        for receiver, sender_id in _receivers(signal):
            path = f"{receiver.__module__}.{getattr(receiver, '__qualname__', receiver)}"
            if not path.startswith(OWN_CODE):
                ties |= _ties(topology, name, path, models.get(sender_id), models.values())
    return sorted(ties)


def _ties(
    topology: Topology,
    name: str,
    path: str,
    sender: type[Model] | None,
    every: Iterable[type[Model]],
) -> set[Tie]:
    """The ties of one receiver: to the sender's unit, or (no sender) to every unit."""
    receiving = unit_of_path(path.rpartition(".")[0])
    if sender is not None:
        senders = {sender._meta.app_label: sender._meta.label}
    else:
        senders = {model._meta.app_label: "every model" for model in every}
    ties = set()
    for unit, label in senders.items():
        if unit == receiving:
            continue
        what = f"{path} receives {name} of {label}"
        event = (sender.__name__ if sender else "<Model>") + EVENT_SUFFIX.get(name, "Saved")
        replacement = f"{unit} publishes {event}, which {receiving} handles"
        if topology.named(unit) is not None:
            ties.add(Tie(unit, "signal", what, receiving, replacement, structural=False))
        if topology.named(receiving) is not None:
            other = unit if sender else "every app"  # one line for a receiver of any sender
            ties.add(Tie(receiving, "signal", what, other, replacement, structural=False))
    return ties


def _receivers(signal: Signal) -> Iterator[tuple[Any, int]]:
    """Each live receiver and the id of the sender it listens to (that of None: any)."""
    for (_, sender_id), receiver, *_ in list(signal.receivers):
        function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        if function is not None:
            yield function, sender_id
