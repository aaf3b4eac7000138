"""`ecs/<module>.json`: a module service on ECS/Fargate as a CloudFormation stack of its own,
deployed and rolled back on its own, wired to the shared stack (`ecs/shared.json`) by the
values that stack exports.

- a `web` service (gunicorn) registered in Cloud Map as `<module>.internal`, where the other
  services' signed internal calls find it, and behind the shared ALB's path rules for the
  module's public API, scaling on CPU;
- when the module handles events, a `consumer` service long-polling the module's queue,
  scaling on the backlog per task (the queue's visible messages over the running tasks, as
  AWS documents for SQS-driven workers);
- a migration task definition, run once per release before the services are updated;
- an ADOT collector sidecar in each service's tasks, which sends the spans to X-Ray;
- read-only root file systems (an empty volume on /tmp and the home), no capabilities;
- a task role and an execution role per task definition, from the manifests
  (`modulith.tooling.deployment.ecs_iam`);
- the module's alarms (`modulith.tooling.deployment.alarms`), notifying the shared alert topic.
"""

from dataclasses import replace
from typing import Any

from modulith.http.health import READY_PATH
from modulith.modules import Module, Topology
from modulith.tooling.deployment.alarms import age_parameter, module_alarms
from modulith.tooling.deployment.cfn import (
    HSTS_SECONDS_PARAMETER,
    SHARED_STACK,
    Template,
    imported,
    logical,
)
from modulith.tooling.deployment.ecs_iam import CONSUMER_QUEUE_ACTIONS, execution_role, task_role
from modulith.tooling.deployment.ecs_shared import log_group
from modulith.tooling.deployment.front_door import front_door_rules
from modulith.tooling.deployment.iam import own_queue, publishing
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.service import (
    CONSUMER_STOP_SECONDS,
    HEALTH_COMMAND,
    CloudEnvironment,
    cloud_environment,
    https_environment,
    tracing_environment,
)
from modulith.tooling.extraction import database_variable

WEB_HEALTH = {"Interval": 15, "Timeout": 5, "Retries": 3, "StartPeriod": 60}
COLLECTOR = "otel-collector"
# The collector image's own configuration for ECS: OTLP in, X-Ray (and EMF) out.
COLLECTOR_CONFIG = "--config=/etc/ecs/ecs-default-config.yaml"
# Written while running (gunicorn's heartbeats, its control socket): an empty volume each.
SCRATCH = {"tmp": "/tmp", "home": "/home/app"}
# The ALB takes at most five path values a rule.
VALUES_PER_RULE = 5
# Longer than a stopping task's drain, shorter than the 300 s default that slows deployments.
DEREGISTRATION_SECONDS = 30


def module_template(
    topology: Topology, module: Module, options: DeploymentOptions, index: int
) -> Template:
    """The stack of `module`, the `index`th of the topology (its listener rules' priorities)."""
    env = _environment(topology, module, options)
    secrets = _secret_parameters(module, env)
    names = options.names
    resources: dict[str, Any] = {}
    resources |= _web(topology, module, options, env, secrets, index)
    if module.handles:
        resources |= _consumer(topology, module, options, env, secrets)
    resources |= _migration(module, options, env, secrets)
    resources |= module_alarms(
        topology,
        module,
        names,
        transport=options.transport,
        actions=[imported("AlertTopicArn")],
    )
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"The {module.name} module service on ECS/Fargate: "
            f"{'web and consumer services' if module.handles else 'web service'}, its "
            "migration, roles, scaling and alarms; generated from the module manifests"
        ),
        "Parameters": _parameters(module, options, secrets),
        "Conditions": {
            "MigrationImageGiven": {"Fn::Not": [{"Fn::Equals": [{"Ref": "MigrationImageUri"}, ""]}]}
        },
        "Resources": resources,
        "Outputs": _outputs(module),
    }


def _environment(
    topology: Topology, module: Module, options: DeploymentOptions
) -> CloudEnvironment:
    urls = {m.name: f"http://{m.name}.{options.namespace}:{options.port}" for m in topology.modules}
    hosts = f"${{PublicHost}},{module.name}.{options.namespace}"
    env = cloud_environment(topology, module, options, urls=urls, allowed_hosts=hosts)
    variables = env.variables | {
        "AWS_DEFAULT_REGION": "${AWS::Region}",
        **https_environment("${PublicHost}", "${HstsSeconds}"),
        **tracing_environment("http://127.0.0.1:4318"),
        # The alarms read the framework's metrics, which reach CloudWatch as EMF log lines.
        "MODULITH_METRICS_EMF": "1",
    }
    return replace(env, variables=variables)


def _secret_parameters(module: Module, env: CloudEnvironment) -> dict[str, str]:
    """The parameter naming each secret, by variable."""
    parameters = {
        "DATABASE_URL": "DjangoDatabaseUrlSecretArn",
        database_variable(module.name): f"{logical(module.name)}DatabaseUrlSecretArn",
        "DJANGO_SECRET_KEY": "DjangoSecretKeySecretArn",
        "MODULITH_API_KEYS": "ApiKeysSecretArn",
        "MODULITH_INTERNAL_SECRET": "InternalSecretArn",
    }
    return {name: parameters[name] for name in env.secrets}


def _container(
    module: Module,
    options: DeploymentOptions,
    env: CloudEnvironment,
    secrets: dict[str, str],
    role: str,
) -> dict[str, Any]:
    name = {"consume": "consumer"}.get(role, role)
    container: dict[str, Any] = {
        "Name": name,
        "Image": {"Ref": "ImageUri"}
        if role != "migrate"
        else {"Fn::If": ["MigrationImageGiven", {"Ref": "MigrationImageUri"}, {"Ref": "ImageUri"}]},
        "Command": [role],
        "Essential": True,
        "User": f"{options.run_as_user}:{options.run_as_user}",
        "ReadonlyRootFilesystem": True,
        "LinuxParameters": {"Capabilities": {"Drop": ["ALL"]}},
        "MountPoints": [
            {"SourceVolume": volume, "ContainerPath": path, "ReadOnly": False}
            for volume, path in SCRATCH.items()
        ],
        "Environment": [
            {"Name": key, "Value": {"Fn::Sub": value} if "${" in value else value}
            for key, value in sorted(env.variables.items())
        ],
        "Secrets": [
            {"Name": variable, "ValueFrom": {"Ref": secrets[variable]}}
            for variable in sorted(env.secrets_of(module, role))
        ],
        "LogConfiguration": _logs(module, options, name),
    }
    if role == "web":
        container["PortMappings"] = [
            {"Name": f"{module.name}-http", "ContainerPort": options.port, "Protocol": "tcp"}
        ]
        container["HealthCheck"] = {"Command": HEALTH_COMMAND, **WEB_HEALTH}
    if role != "migrate":
        container["DependsOn"] = [{"ContainerName": COLLECTOR, "Condition": "START"}]
    if role == "consume":
        container["StopTimeout"] = CONSUMER_STOP_SECONDS
    return container


def _collector(module: Module, options: DeploymentOptions) -> dict[str, Any]:
    """The ADOT collector: takes the spans over OTLP on localhost and sends them to X-Ray with
    the task role; not essential, so the service runs on without it."""
    return {
        "Name": COLLECTOR,
        "Image": {"Ref": "CollectorImage"},
        "Command": [COLLECTOR_CONFIG],
        "Essential": False,
        "ReadonlyRootFilesystem": True,
        "LinuxParameters": {"Capabilities": {"Drop": ["ALL"]}},
        "LogConfiguration": _logs(module, options, COLLECTOR),
    }


def _logs(module: Module, options: DeploymentOptions, prefix: str) -> dict[str, Any]:
    return {
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": log_group(module.name, options),
            "awslogs-region": {"Ref": "AWS::Region"},
            "awslogs-stream-prefix": prefix,
        },
    }


def _task_definition(
    module: Module,
    options: DeploymentOptions,
    kind: str,
    containers: list[dict[str, Any]],
    task_role: str | None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Family": f"{options.queue_prefix}-{module.name}-{kind}",
        "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"],
        "Cpu": str(options.cpu),
        "Memory": str(options.memory),
        "RuntimePlatform": {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
        "ExecutionRoleArn": {"Fn::GetAtt": [f"{logical(kind)}ExecutionRole", "Arn"]},
        "ContainerDefinitions": containers,
        "Volumes": [{"Name": volume} for volume in SCRATCH],
    }
    if task_role:
        properties["TaskRoleArn"] = {"Fn::GetAtt": [task_role, "Arn"]}
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": properties}


def _execution_role(
    module: Module,
    options: DeploymentOptions,
    env: CloudEnvironment,
    secrets: dict[str, str],
    kind: str,
) -> dict[str, Any]:
    role = {"consumer": "consume"}.get(kind, kind)
    arns = [{"Ref": secrets[name]} for name in sorted(env.secrets_of(module, role))]
    return {
        f"{logical(kind)}ExecutionRole": execution_role(
            f"{options.queue_prefix}-{module.name}-{kind}-execution", arns
        )
    }


def _web(
    topology: Topology,
    module: Module,
    options: DeploymentOptions,
    env: CloudEnvironment,
    secrets: dict[str, str],
    index: int,
) -> dict[str, Any]:
    names = options.names
    rules = _listener_rules(topology, module, options, index)
    service: dict[str, Any] = {
        "Cluster": imported("ClusterName"),
        "ServiceName": f"{options.queue_prefix}-{module.name}-web",
        "LaunchType": "FARGATE",
        "TaskDefinition": {"Ref": "WebTaskDefinition"},
        "DesiredCount": {"Ref": "WebMinTasks"},
        "NetworkConfiguration": _network(),
        "ServiceRegistries": [{"RegistryArn": {"Fn::GetAtt": ["CloudMapService", "Arn"]}}],
        "DeploymentConfiguration": _rolling(),
        "PropagateTags": "SERVICE",
        "EnableExecuteCommand": False,
    }
    resources: dict[str, Any] = {
        "WebTaskRole": task_role(
            f"{options.queue_prefix}-{module.name}-web",
            publishing(topology, module, names, options.transport),
        ),
        **_execution_role(module, options, env, secrets, "web"),
        "WebTaskDefinition": _task_definition(
            module,
            options,
            "web",
            [_container(module, options, env, secrets, "web"), _collector(module, options)],
            "WebTaskRole",
        ),
        "CloudMapService": {
            "Type": "AWS::ServiceDiscovery::Service",
            "Properties": {
                "Name": module.name,
                "Description": f"{module.name}'s web tasks: {module.name}.{options.namespace}",
                "NamespaceId": imported("NamespaceId"),
                "DnsConfig": {
                    "DnsRecords": [{"Type": "A", "TTL": 10}],
                    "RoutingPolicy": "MULTIVALUE",
                },
                # ECS registers and deregisters the tasks, by their own health.
                "HealthCheckCustomConfig": {"FailureThreshold": 1},
            },
        },
    }
    if rules:
        resources["WebTargetGroup"] = {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "Name": f"{options.queue_prefix}-{module.name}"[:32],
                "TargetType": "ip",
                "Protocol": "HTTP",
                "Port": options.port,
                "VpcId": imported("VpcId"),
                "HealthCheckPath": READY_PATH,
                "Matcher": {"HttpCode": "200"},
                "HealthCheckIntervalSeconds": 15,
                "HealthyThresholdCount": 2,
                "TargetGroupAttributes": [
                    {
                        "Key": "deregistration_delay.timeout_seconds",
                        "Value": str(DEREGISTRATION_SECONDS),
                    }
                ],
            },
        }
        resources |= rules
        service["LoadBalancers"] = [
            {
                "ContainerName": "web",
                "ContainerPort": options.port,
                "TargetGroupArn": {"Ref": "WebTargetGroup"},
            }
        ]
        service["HealthCheckGracePeriodSeconds"] = 60
    web_service: dict[str, Any] = {"Type": "AWS::ECS::Service", "Properties": service}
    if rules:  # a target group must be a listener's before a service may use it
        web_service["DependsOn"] = sorted(rules)
    resources["WebService"] = web_service
    resources |= _scaling(
        "Web",
        "WebService",
        {
            "TargetValue": {"Ref": "WebCpuTarget"},
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    )
    return resources


def _consumer(
    topology: Topology,
    module: Module,
    options: DeploymentOptions,
    env: CloudEnvironment,
    secrets: dict[str, str],
) -> dict[str, Any]:
    names = options.names
    statements = own_queue(topology, module, names, CONSUMER_QUEUE_ACTIONS) + publishing(
        topology, module, names, options.transport
    )
    resources: dict[str, Any] = {
        "ConsumerTaskRole": task_role(f"{options.queue_prefix}-{module.name}-consumer", statements),
        **_execution_role(module, options, env, secrets, "consumer"),
        "ConsumerTaskDefinition": _task_definition(
            module,
            options,
            "consumer",
            [_container(module, options, env, secrets, "consume"), _collector(module, options)],
            "ConsumerTaskRole",
        ),
        "ConsumerService": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "Cluster": imported("ClusterName"),
                "ServiceName": f"{options.queue_prefix}-{module.name}-consumer",
                "LaunchType": "FARGATE",
                "TaskDefinition": {"Ref": "ConsumerTaskDefinition"},
                "DesiredCount": {"Ref": "ConsumerMinTasks"},
                "NetworkConfiguration": _network(),
                "DeploymentConfiguration": _rolling(),
                "PropagateTags": "SERVICE",
                "EnableExecuteCommand": False,
            },
        },
    }
    backlog = {
        "TargetValue": {"Ref": "BacklogPerTask"},
        "CustomizedMetricSpecification": {
            "Metrics": [
                {
                    "Id": "visible",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/SQS",
                            "MetricName": "ApproximateNumberOfMessagesVisible",
                            "Dimensions": [
                                {"Name": "QueueName", "Value": names.queue(module.name)}
                            ],
                        },
                        "Stat": "Sum",
                    },
                    "ReturnData": False,
                },
                {
                    "Id": "tasks",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "ECS/ContainerInsights",
                            "MetricName": "RunningTaskCount",
                            "Dimensions": [
                                {"Name": "ClusterName", "Value": imported("ClusterName")},
                                {
                                    "Name": "ServiceName",
                                    "Value": {"Fn::GetAtt": ["ConsumerService", "Name"]},
                                },
                            ],
                        },
                        "Stat": "Average",
                    },
                    "ReturnData": False,
                },
                {
                    "Id": "backlog",
                    "Expression": "visible / tasks",
                    "Label": "messages waiting per consumer task",
                    "ReturnData": True,
                },
            ]
        },
        "ScaleInCooldown": 300,
        "ScaleOutCooldown": 60,
    }
    return resources | _scaling("Consumer", "ConsumerService", backlog)


def _migration(
    module: Module, options: DeploymentOptions, env: CloudEnvironment, secrets: dict[str, str]
) -> dict[str, Any]:
    return {
        **_execution_role(module, options, env, secrets, "migrate"),
        "MigrateTaskDefinition": _task_definition(
            module, options, "migrate", [_container(module, options, env, secrets, "migrate")], None
        ),
    }


def _scaling(prefix: str, service: str, policy: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{prefix}ScalableTarget": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ServiceNamespace": "ecs",
                "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": {
                    "Fn::Join": [
                        "/",
                        ["service", imported("ClusterName"), {"Fn::GetAtt": [service, "Name"]}],
                    ]
                },
                "MinCapacity": {"Ref": f"{prefix}MinTasks"},
                "MaxCapacity": {"Ref": f"{prefix}MaxTasks"},
            },
        },
        f"{prefix}ScalingPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": {"Fn::Sub": f"${{AWS::StackName}}-{prefix.lower()}"},
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": {"Ref": f"{prefix}ScalableTarget"},
                "TargetTrackingScalingPolicyConfiguration": policy,
            },
        },
    }


def _listener_rules(
    topology: Topology, module: Module, options: DeploymentOptions, index: int
) -> dict[str, Any]:
    """The module's share of the front door's path rules on the shared HTTPS listener, five
    path values a rule; priorities from the module's place in the topology."""
    values: list[str] = []
    for rule in front_door_rules(topology):
        if rule.module == module.name:
            values += [rule.path, f"{rule.path}/*"] if rule.prefix else [rule.path]
    chunks = [values[at : at + VALUES_PER_RULE] for at in range(0, len(values), VALUES_PER_RULE)]
    return {
        f"WebListenerRule{number or ''}": {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {
                "ListenerArn": imported("HttpsListenerArn"),
                "Priority": 10 * (index + 1) + number,
                "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": chunk}}],
                "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "WebTargetGroup"}}],
            },
        }
        for number, chunk in enumerate(chunks)
    }


def _network() -> dict[str, Any]:
    return {
        "AwsvpcConfiguration": {
            "AssignPublicIp": "DISABLED",
            "Subnets": {"Fn::Split": [",", imported("PrivateSubnetIds")]},
            "SecurityGroups": [imported("ServiceSecurityGroupId")],
        }
    }


def _rolling() -> dict[str, Any]:
    """New tasks healthy before old ones stop; a deployment that cannot get there rolls back
    by itself (and CloudFormation's update with it)."""
    return {
        "MinimumHealthyPercent": 100,
        "MaximumPercent": 200,
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
    }


def _parameters(
    module: Module, options: DeploymentOptions, secrets: dict[str, str]
) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        SHARED_STACK: {
            "Type": "String",
            "Default": f"{options.queue_prefix}-shared",
            "Description": "The name of the shared stack (ecs/shared.json) whose exports this "
            "one imports",
        },
        "ImageUri": {
            "Type": "String",
            "Description": "The image the services run, in ECR, by tag or digest",
        },
        "MigrationImageUri": {
            "Type": "String",
            "Default": "",
            "Description": "The image the migration task runs (the release's, migrated before "
            "ImageUri moves to it); empty: ImageUri",
        },
        "PublicHost": {
            "Type": "String",
            "Description": "The public host name (its certificate is the ALB's): allowed host, "
            "trusted origin",
        },
        "HstsSeconds": HSTS_SECONDS_PARAMETER,
        "CollectorImage": {
            "Type": "String",
            "Default": options.collector_image,
            "Description": "The ADOT collector image of the trace sidecar",
        },
        "WebMinTasks": _count(options.replicas, "The fewest web tasks"),
        "WebMaxTasks": _count(10, "The most web tasks"),
        "WebCpuTarget": {
            "Type": "Number",
            "Default": 60,
            "MinValue": 10,
            "MaxValue": 90,
            "Description": "The web tasks' average CPU % the scaling keeps",
        },
    }
    if module.handles:
        parameters |= {
            "ConsumerMinTasks": _count(1, "The fewest consumer tasks"),
            "ConsumerMaxTasks": _count(10, "The most consumer tasks"),
            "BacklogPerTask": {
                "Type": "Number",
                "Default": 100,
                "MinValue": 1,
                "Description": "Messages waiting per consumer task that the scaling keeps: the "
                "latency you accept over the time one message takes",
            },
        }
    parameters |= age_parameter()
    for variable, parameter in secrets.items():
        parameters[parameter] = {
            "Type": "String",
            "Description": f"The Secrets Manager secret (or SSM parameter) holding {variable}",
        }
    return parameters


def _count(default: int, description: str) -> dict[str, Any]:
    return {
        "Type": "Number",
        "Default": default,
        "MinValue": 0,
        "MaxValue": 100,
        "Description": description,
    }


def _outputs(module: Module) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "WebServiceName": {"Value": {"Fn::GetAtt": ["WebService", "Name"]}},
        "MigrateTaskDefinitionArn": {"Value": {"Ref": "MigrateTaskDefinition"}},
    }
    if module.handles:
        outputs["ConsumerServiceName"] = {"Value": {"Fn::GetAtt": ["ConsumerService", "Name"]}}
    return outputs
