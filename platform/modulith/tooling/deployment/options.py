"""What a deployment is generated with, besides the topology."""

from dataclasses import dataclass, replace

from modulith.aws.names import ResourceNames
from modulith.modules import Topology


@dataclass(frozen=True)
class DeploymentOptions:
    image: str = "modulith:latest"
    transport: str = "eventbridge"
    port: int = 8000
    queue_prefix: str = "modulith"
    event_bus: str = "modulith"
    front_door_port: int = 8080
    emulator_image: str = "motoserver/moto:5.2.5"
    nginx_image: str = "nginx:1.27-alpine"
    cpu: int = 512
    memory: int = 1024
    run_as_user: int = 10001  # the image's USER, numeric so that runAsNonRoot can check it
    replicas: int = 2
    # The queues' redrive and visibility, as the framework's settings default them.
    max_receives: int = 5
    visibility_timeout: int = 30
    # The trace pipeline's sidecar (ECS) and Deployment (EKS): the AWS Distro for
    # OpenTelemetry collector, which exports to X-Ray.
    collector_image: str = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
    # The Cloud Map private DNS namespace of the services on ECS (`<module>.internal`).
    namespace: str = "internal"
    # The modules whose queues and topics are FIFO, from the topology (`for_topology`).
    fifo_queues: frozenset[str] = frozenset()
    fifo_topics: frozenset[str] = frozenset()

    def for_topology(self, topology: Topology) -> "DeploymentOptions":
        """These options, naming the topology's FIFO queues and topics as such."""
        names = ResourceNames.of(topology, prefix=self.queue_prefix, bus=self.event_bus)
        return replace(self, fifo_queues=names.fifo_queues, fifo_topics=names.fifo_topics)

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(
            prefix=self.queue_prefix,
            bus=self.event_bus,
            fifo_queues=self.fifo_queues,
            fifo_topics=self.fifo_topics,
        )
