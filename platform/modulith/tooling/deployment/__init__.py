"""Deployment files of the split topology, generated from the manifests: every module as its
own service of the one image.

- `compose.yaml`: the split on one machine (an AWS emulator, `provision`, each module's web
  and consumer containers on a volume of their own, nginx as the front door);
- `nginx.conf`: the front door's routes, `/api/<module>` to the module's service, as an ALB's
  path rules would route them; `/internal/` is never exposed;
- `ecs/<module>.json`: an ECS/Fargate task definition template per module service, with
  `${PLACEHOLDERS}` for what differs between accounts (render with `envsubst`);
- `ecs/README.md`: the placeholders the templates use, and why a task holds two containers;
- `k8s/<module>/*.yaml`: the module service on Kubernetes (EKS): a ServiceAccount for IRSA, a
  ConfigMap, Deployments of its web and consumer roles, a migration Job, a Service, and an
  Ingress with the front door's rules for the AWS Load Balancer Controller; `k8s/README.md`
  names their Secrets, placeholders and the steps of a release;
- `lambda/<module>.json`: a CloudFormation stack of the module on AWS Lambda (its web,
  consume and relay functions from the image, the SQS event source with partial batch
  responses, the relay's schedule, HTTP API routes or an ALB target group, a least-privilege
  role per function); `lambda/README.md` names its parameters.

Only the topology and the options go in: nothing here knows the shop.
"""

from modulith.tooling.deployment.files import FORMATS, deployment_files
from modulith.tooling.deployment.nginx import front_door_routes, standalone_nginx_conf
from modulith.tooling.deployment.options import DeploymentOptions

__all__ = [
    "FORMATS",
    "DeploymentOptions",
    "deployment_files",
    "front_door_routes",
    "standalone_nginx_conf",
]
