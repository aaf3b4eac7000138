"""The keys that sign internal calls (MODULITH_INTERNAL_KEYS): one or more `id:secret` pairs.
The first signs; every one verifies, so a key rotates without downtime. The id travels with
each call (signed, like JWT's `kid` or the access key id of AWS SigV4); the secret never
does, and never appears in a repr, an error message or a log line."""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

from modulith.modules.errors import ConfigurationError

# Letters, digits, dot, dash and underscore, as in a header, a log line or a file name.
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
# The id of MODULITH_INTERNAL_SECRET, the single key of earlier versions.
LEGACY_KEY_ID = "default"
MAX_KEYS = 10
MASK = "********"


@dataclass(frozen=True)
class SigningKey:
    id: str
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"SigningKey(id={self.id!r}, secret={MASK})"


@dataclass(frozen=True)
class SigningKeys:
    """A key ring: `current` signs, any of `keys` verifies (looked up by id)."""

    keys: tuple[SigningKey, ...] = ()

    def __post_init__(self) -> None:
        ids = [key.id for key in self.keys]
        twice = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
        if twice:
            raise ConfigurationError(
                f"MODULITH_INTERNAL_KEYS must give each key its own id: {twice[0]!r} is twice"
            )

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __iter__(self) -> Iterator[SigningKey]:
        return iter(self.keys)

    def __repr__(self) -> str:
        return f"SigningKeys(ids={self.ids!r})"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key.id for key in self.keys)

    @property
    def current(self) -> SigningKey:
        if not self.keys:
            raise ConfigurationError("no internal key is set: set MODULITH_INTERNAL_KEYS")
        return self.keys[0]

    def get(self, key_id: str) -> SigningKey | None:
        return next((key for key in self.keys if key.id == key_id), None)

    @classmethod
    @sensitive_variables()  # every local holds secrets
    def parse(cls, name: str, raw: object) -> "SigningKeys":
        """From `id:secret,id:secret` text (the environment) or a list of `id:secret` texts
        (Django's settings). An error names the setting and the pair's position, never the
        secret."""
        if isinstance(raw, SigningKeys):
            return raw
        if isinstance(raw, str):
            pairs: Sequence[object] = [part for part in raw.split(",") if part.strip()]
        elif isinstance(raw, list | tuple):
            pairs = raw
        else:
            raise ConfigurationError(
                f"{name} must be id:secret pairs, comma-separated (the value is not shown)"
            )
        if len(pairs) > MAX_KEYS:
            raise ConfigurationError(f"{name} must hold at most {MAX_KEYS} keys, not {len(pairs)}")
        return cls(tuple(_key(name, position, pair) for position, pair in enumerate(pairs, 1)))

    @classmethod
    @sensitive_variables("secret")
    def single(cls, secret: str) -> "SigningKeys":
        """MODULITH_INTERNAL_SECRET: one key, whose id is `default`."""
        return cls((SigningKey(LEGACY_KEY_ID, secret.encode()),)) if secret else cls()


@sensitive_variables("pair", "text", "secret")
def _key(name: str, position: int, pair: object) -> SigningKey:
    text = pair.strip() if isinstance(pair, str) else ""
    key_id, colon, secret = text.partition(":")
    where = f"{name}'s key #{position}"
    if not colon or not secret.strip():
        raise ConfigurationError(f"{where} must be id:secret (the value is not shown)")
    if not KEY_ID.fullmatch(key_id):
        raise ConfigurationError(
            f"{where} must have an id of 1 to 64 letters, digits, '.', '-' or '_', starting "
            "with a letter or digit"
        )
    return SigningKey(key_id, secret.strip().encode())
