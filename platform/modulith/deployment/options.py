"""What a deployment is generated with, besides the topology."""

from dataclasses import dataclass


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
