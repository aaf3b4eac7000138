"""`lambda/README.md`: what the Lambda templates hold, and how a stack of one is deployed."""

from modulith.deployment.lambda_stack import (
    CONSUME_TIMEOUT_SECONDS,
    RELAY_SCHEDULE,
    RELAY_TIMEOUT_SECONDS,
)
from modulith.deployment.service import GENERATED
from modulith.modules import Topology


def lambda_readme(topology: Topology) -> str:
    services = ", ".join(f"`{m.name}.json`" for m in topology.modules)
    first = topology.modules[0].name if topology.modules else "orders"
    return "\n".join(
        [
            "# AWS Lambda stacks",
            "",
            f"<!-- {GENERATED}; a test compares them, and cfn-lint checks them. -->",
            "",
            f"One CloudFormation template per module ({services}), every function from the",
            "one image (`PackageType: Image`; the command is the entrypoint's `lambda` role):",
            "",
            "- `web` (`lambda web`): the module's API behind an HTTP API (payload 2.0), routes",
            "  `ANY /api/<module>` and `ANY /api/<module>/{proxy+}`, and `/internal/<module>/`",
            "  for the signed calls of the services that use its query port; with",
            "  `AlbListenerArn`, also an ALB target group for the same paths;",
            "- `consume` (`lambda consume`): the SQS event source of the module's queue, with",
            "  `ReportBatchItemFailures`: the function names the records that failed, the",
            "  mapping deletes the others. What can never be handled goes to the dead-letter",
            "  queue at once, with its reason; a record that keeps failing is moved there by the",
            "  queue's redrive policy after `MODULITH_MAX_RECEIVES` receives;",
            f"- `relay` (`lambda relay`): the outbox sweep, on a schedule (`{RELAY_SCHEDULE}`),",
            "  since a frozen function runs no background thread: deliveries after commit run",
            "  inline before each answer, and the schedule catches the rest.",
            "",
            "Each function has a role of its own: its log group, the VPC's network interfaces,",
            "the module's secrets, publishing its events (the bus, with its own source only; the",
            "subscribers' queues with",
            "the sqs transport; the module's own topic with sns), and for `consume` only, the",
            "module's queue and its dead-letter queue.",
            "",
            "Before the first stack:",
            "",
            "1. The queues, dead-letter queues and the bus (the topics and their subscriptions",
            "   with sns): `python manage.py provision` (or",
            "   deploy `python manage.py topology --format cloudformation`). Keep the queues'",
            "   visibility timeout (`MODULITH_VISIBILITY_TIMEOUT`, 30 s) above the consume",
            f"   function's timeout ({CONSUME_TIMEOUT_SECONDS} s): Lambda refuses an event source",
            "   whose messages could reappear while a batch is in hand.",
            "2. The secrets, one Secrets Manager string each: the module's database URL, the",
            "   database of Django's own tables (`DATABASE_URL`), `DJANGO_SECRET_KEY`,",
            "   `MODULITH_API_KEYS` and, for a module that calls or answers signed calls,",
            "   `MODULITH_INTERNAL_SECRET`. A function reads them once, at its cold start.",
            "3. The migrations, from the same image before each release: its `migrate` role as",
            "   a one-off task (ECS `run-task`, CodeBuild), since a function serves no command.",
            "",
            "Deploy a module (push the image to ECR first):",
            "",
            "```sh",
            f"aws cloudformation deploy --stack-name shop-{first} \\",
            f"  --template-file deploy/lambda/{first}.json --capabilities CAPABILITY_IAM \\",
            "  --parameter-overrides ImageUri=<account>.dkr.ecr.<region>.amazonaws.com/shop:1.4 \\",
            "    SubnetIds=subnet-a,subnet-b SecurityGroupIds=sg-app <the secrets' ARNs> ...",
            "```",
            "",
            "The first stack creates the HTTP API (output `HttpApiEndpoint`); give the others",
            "its id as `HttpApiId`, and the shop has one front door. `*ServiceUrl` parameters",
            "are where the providers of the module's query ports answer (that HTTP API's",
            "endpoint, or their ECS services' Cloud Map names).",
            "",
            f"The relay function runs for {RELAY_TIMEOUT_SECONDS} s at most; after its first sweep",
            "it starts none with less than a claim's time (`MODULITH_CLAIM_SECONDS`) left.",
            "",
        ]
    )
