"""`ecs/README.md`: how the task definitions are used, and the placeholders they hold."""

from collections.abc import Iterable

from modulith.deployment.service import GENERATED, placeholders
from modulith.modules import Topology


def ecs_readme(topology: Topology, definitions: Iterable[str]) -> str:
    services = ", ".join(f"`{m.name}.json`" for m in topology.modules)
    return "\n".join(
        [
            "# ECS/Fargate task definitions",
            "",
            f"<!-- {GENERATED}; a test compares them. -->",
            "",
            f"One task definition per module service ({services}), all of the one image.",
            "A task runs the module's `web` container (gunicorn on port 8000, the target of the",
            "ALB's path rules `/api/<module>` and `/api/<module>/*`, and of the other services'",
            "signed internal calls) and, when the module subscribes to events, its `consumer`",
            "container (`consume`, long-polling the module's queue). They share a task because",
            "they are one service: the same environment, database and IAM role, deployed and",
            "rolled back together. A module whose queue needs more consumers than its web needs",
            "tasks can move the `consumer` container into a task definition of its own, unchanged.",
            "",
            "The containers do not migrate on start (`MODULITH_MIGRATE_ON_START=0`): run the",
            "task once per release with the `web` container's command overridden to",
            '`["migrate"]` before updating the service.',
            "",
            "Render a template with the placeholders set, then register it:",
            "",
            "```sh",
            "envsubst < deploy/ecs/orders.json > /tmp/orders.json",
            "aws ecs register-task-definition --cli-input-json file:///tmp/orders.json",
            "```",
            "",
            "Placeholders:",
            "",
            *[f"- `${{{name}}}`" for name in placeholders(definitions)],
            "",
            "- `*_SECRET_ARN`: Secrets Manager secrets or SSM parameters, read by the execution",
            "  role (which also needs `logs:CreateLogGroup` for `awslogs-create-group`).",
            "- `*_SERVICE_URL`: where that module's service answers, e.g. its Cloud Map name",
            "  `http://inventory.internal:8000`.",
            "- `ALLOWED_HOSTS`: the public host name and the host names of those URLs (the",
            "  internal calls arrive with them), e.g. `shop.example.com,.internal`.",
            "- `*_TASK_ROLE_ARN`: allows the module's own queue (`sqs:ReceiveMessage`,",
            "  `DeleteMessage`, `ChangeMessageVisibility`, `GetQueueUrl`) and publishing",
            "  (`events:PutEvents` with the module's own `events:source`, `<module>.service`; with",
            "  the sqs transport, `sqs:SendMessage` to the subscribers'",
            "  queues; with the sns transport, `sns:Publish` to the module's own topic and",
            "  `sts:GetCallerIdentity`, which every principal may call).",
            "",
        ]
    )
