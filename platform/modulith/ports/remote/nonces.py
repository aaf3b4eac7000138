"""Where a provider remembers the nonces of the calls it accepted, for as long as their
signatures are fresh: a second call with a nonce already there is a replay.

Two stores, chosen by MODULITH_NONCE_STORE: `database`, a table in Django's own database made
by `manage.py migrate` (the default), and `cache`, Django's cache MODULITH_NONCE_CACHE (Redis,
when MODULITH_CACHE_URL names one). Both remember atomically, so two instances of a provider
cannot both accept the same nonce."""

import itertools
import logging
from datetime import datetime, timedelta
from typing import Protocol

from django.core.cache import caches
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from modulith.conf import ModulithSettings
from modulith.ports.remote.models import NONCE_DATABASE, CallNonce

log = logging.getLogger(__name__)

# Every this many nonces, a process deletes up to PURGE_BATCH expired ones: the table stays
# as small as two minutes of calls, and no call pays for more than one bounded delete.
PURGE_EVERY = 100
PURGE_BATCH = 1000


class NonceStoreUnavailable(Exception):
    """The store did not answer: the call can be neither accepted nor refused as a replay."""


class NonceStore(Protocol):
    def first_use(self, nonce: str, *, keep: timedelta) -> bool:
        """Remembers `nonce` for `keep`; False when it was remembered already (a replay).
        Raises NonceStoreUnavailable when the store cannot say."""
        ...


class DatabaseNonces:
    """The CallNonce table in Django's own database."""

    _inserted = itertools.count(1)  # per process: which insert purges

    def first_use(self, nonce: str, *, keep: timedelta) -> bool:
        now = timezone.now()
        try:
            with transaction.atomic(using=NONCE_DATABASE):  # a savepoint inside a request's
                CallNonce.objects.using(NONCE_DATABASE).create(nonce=nonce, expires_at=now + keep)
        except IntegrityError:
            return False
        except DatabaseError as error:
            raise NonceStoreUnavailable(f"{type(error).__name__}: {error}") from error
        if next(self._inserted) % PURGE_EVERY == 0:
            self._purge(now)
        return True

    @staticmethod
    def _purge(now: datetime) -> None:
        nonces = CallNonce.objects.using(NONCE_DATABASE)
        try:
            with transaction.atomic(using=NONCE_DATABASE):
                expired = nonces.filter(expires_at__lt=now).values_list("nonce", flat=True)
                nonces.filter(nonce__in=list(expired[:PURGE_BATCH])).delete()
        except DatabaseError as error:  # the call is recorded; the next purge takes them
            log.warning("could not purge expired nonces: %s: %s", type(error).__name__, error)


class CacheNonces:
    """Django's cache: an atomic `add`, expiring with the signature (Redis: SET NX EX)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def first_use(self, nonce: str, *, keep: timedelta) -> bool:
        try:
            added = caches[self.alias].add(
                f"modulith:nonce:{nonce}", 1, timeout=keep.total_seconds()
            )
        except Exception as error:  # each cache backend raises its own client's errors
            raise NonceStoreUnavailable(f"{type(error).__name__}: {error}") from error
        return bool(added)


def nonce_store(settings: ModulithSettings) -> NonceStore:
    if settings.nonce_store == "cache":
        return CacheNonces(settings.nonce_cache)
    return DatabaseNonces()
