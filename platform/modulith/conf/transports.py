"""The transports a project may name in MODULITH_TRANSPORT: the framework's, each a name for a
`TransportKind` at a dotted path (kombu's transport table), or a third party's, named by the
dotted path of its `TransportKind` itself (`kafka_modulith.kind:KAFKA`). The core imports a
kind only once it is chosen (`modulith.runtime.transports`); adding one of the framework's is
one line here."""

import re
from dataclasses import dataclass

from modulith.conf import extras


@dataclass(frozen=True)
class Registered:
    path: str  # "package.module:NAME", the TransportKind
    extra: extras.Extra | None = None  # what it needs beyond the core


TRANSPORTS: dict[str, Registered] = {
    "inprocess": Registered("modulith.runtime.transports:IN_PROCESS"),
    "sqs": Registered("modulith.aws.transports.kinds:SQS", extras.AWS),
    "sns": Registered("modulith.aws.transports.kinds:SNS", extras.AWS),
    "eventbridge": Registered("modulith.aws.transports.kinds:EVENTBRIDGE", extras.AWS),
}

# A third party's transport: a module's dotted path, a colon, the TransportKind's name.
PLUG_IN_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")

ACCEPTED = (
    f"be one of {', '.join(TRANSPORTS)}, or the dotted path of a TransportKind "
    "(package.module:NAME)"
)


def registered(name: str) -> Registered | None:
    """What `name` stands for: one of the framework's transports, or a plug-in's path."""
    if name in TRANSPORTS:
        return TRANSPORTS[name]
    if PLUG_IN_PATH.fullmatch(name):
        return Registered(name)
    return None
