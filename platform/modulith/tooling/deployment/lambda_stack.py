"""A module's Lambda shape as a CloudFormation template (`lambda/<module>.json`): the image's
functions (web, consume, relay, and migrate for a release), the SQS event source with partial
batch responses, the relay's schedule, and the HTTP API routes of the module as the front door
(and, when a listener is given, an ALB target group), each function with a role of its own,
traced by X-Ray (active tracing) and metered by its EMF lines, with the module's alarms.

The queues, the dead-letter queues and the bus are the topology's (`manage.py provision`, or
`manage.py topology --format cloudformation`); this template refers to them by name."""

from typing import Any

from modulith.aws.names import ResourceNames
from modulith.modules import Module, Topology
from modulith.tooling.deployment.alarms import age_parameter, module_alarms
from modulith.tooling.deployment.cfn import HSTS_SECONDS_PARAMETER, managed_policy
from modulith.tooling.deployment.cfn import logical as _logical
from modulith.tooling.deployment.ecs_iam import XRAY_POLICY
from modulith.tooling.deployment.iam import own_queue, queue_arn
from modulith.tooling.deployment.lambda_iam import (
    CONSUMER_QUEUE_ACTIONS,
    function_statements,
    internal_call_statements,
    role,
)
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.service import (
    SECRET,
    bus_names,
    https_environment,
    module_environment,
    role_secrets,
)
from modulith.tooling.extraction import database_variable

# The functions that may call another module's query port: a request's or a handler's.
CALLING_ROLES = {"web", "consume"}
# API Gateway waits at most 30 s for an integration.
WEB_TIMEOUT_SECONDS = 29
# Below the queues' visibility timeout (MODULITH_VISIBILITY_TIMEOUT, 30 s), as Lambda requires
# of an SQS event source: a batch still in hand never becomes visible to another receive.
CONSUME_TIMEOUT_SECONDS = 25
# The relay sweeps for all but a claim's time of this, once a minute.
RELAY_TIMEOUT_SECONDS = 60
RELAY_SCHEDULE = "rate(1 minute)"
# A release migrates through this function before the others move to the new image.
MIGRATE_TIMEOUT_SECONDS = 900
LOG_RETENTION_DAYS = 30
# The public stage's throttling, by default: steady requests a second, and the burst above it.
THROTTLING_RATE = 100
THROTTLING_BURST = 200
# One JSON line per request on the HTTP API: who (the IAM caller of an internal route), what,
# and how it ended.
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"caller":"$context.identity.userArn","requestTime":"$context.requestTime",'
    '"routeKey":"$context.routeKey","status":"$context.status",'
    '"responseLength":"$context.responseLength","latency":"$context.responseLatency",'
    '"integrationError":"$context.integrationErrorMessage"}'
)
OWN_API = "CreateHttpApi"
BEHIND_ALB = "BehindAlb"
ALERTS = "AlertsGiven"
MIGRATION_IMAGE = "MigrationImageGiven"
CONSUMING = "ConsumeEnabledNow"


def lambda_template(
    topology: Topology, module: Module, options: DeploymentOptions
) -> dict[str, Any]:
    names = options.names
    env, secrets, providers = _environment(topology, module, options)
    roles = lambda_functions(module)
    resources: dict[str, Any] = {}
    for name in roles:
        # Each function reads only the secrets its role uses (the API keys: web alone).
        own = role_secrets(module, name, secrets)
        function_env = {
            key: value
            for key, value in env.items()
            if not key.endswith("_SECRET_ARN") or key.removesuffix("_SECRET_ARN") in own
        }
        statements = function_statements(
            topology,
            module,
            names,
            transport=options.transport,
            log_group=f"{_logical(name)}LogGroup",
            secrets=[{"Ref": secrets[variable]} for variable in own],
        )
        if name == "consume":
            statements += own_queue(topology, module, names, CONSUMER_QUEUE_ACTIONS)
        if name in CALLING_ROLES:
            apis = {provider: {"Ref": _api_parameter(provider)} for provider in providers}
            statements += internal_call_statements(apis)
        if name == "migrate":  # it publishes nothing: the databases and its log only
            statements = [s for s in statements if s["Sid"] in {"Logs", "Network", "Secrets"}]
        resources |= _function(module, options, name, function_env, statements)
    if module.handles:
        resources |= _event_source(module, names)
    resources |= _schedule()
    if "web" in roles:
        resources |= _http_api(module, options) | _alb_target(module, options)
    resources |= module_alarms(
        topology,
        module,
        names,
        transport=options.transport,
        actions={"Fn::If": [ALERTS, [{"Ref": "AlertTopicArn"}], {"Ref": "AWS::NoValue"}]},
    )
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"The {module.name} module on AWS Lambda: {', '.join(roles)} functions of the one "
            "image, generated from the module manifests"
        ),
        "Parameters": _parameters(module, secrets, providers, with_web="web" in roles),
    }
    template["Conditions"] = {
        ALERTS: {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertTopicArn"}, ""]}]},
        MIGRATION_IMAGE: {"Fn::Not": [{"Fn::Equals": [{"Ref": "MigrationImageUri"}, ""]}]},
    }
    if module.handles:
        template["Conditions"][CONSUMING] = {"Fn::Equals": [{"Ref": "ConsumeEnabled"}, "true"]}
    if "web" in roles:
        template["Conditions"] |= {
            OWN_API: {"Fn::Equals": [{"Ref": "HttpApiId"}, ""]},
            BEHIND_ALB: {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlbListenerArn"}, ""]}]},
        }
    return template | {"Resources": resources, "Outputs": _outputs(roles)}


def lambda_functions(module: Module) -> list[str]:
    """The module's functions: web when it serves an API or a query port, consume when it
    handles events, relay and migrate always."""
    roles = ["web"] if module.api or module.provides else []
    roles += ["consume"] if module.handles else []
    return [*roles, "relay", "migrate"]


def _environment(
    topology: Topology, module: Module, options: DeploymentOptions
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The functions' variables; the parameters naming the secrets the functions read at their
    cold start (`<NAME>_SECRET_ARN`, see modulith.aws.lambdas.environment), by variable; and the
    modules whose services they call."""
    urls = {m.name: f"${{{_logical(m.name)}ServiceUrl}}" for m in topology.modules}
    plain = module_environment(topology, module, options, urls)
    secrets = {
        "DATABASE_URL": "DjangoDatabaseUrlSecretArn",
        database_variable(module.name): f"{_logical(module.name)}DatabaseUrlSecretArn",
        "DJANGO_SECRET_KEY": "DjangoSecretKeySecretArn",
        "MODULITH_API_KEYS": "ApiKeysSecretArn",
    }
    if plain.pop(SECRET, None) is not None:
        secrets[SECRET] = "InternalSecretArn"
    plain.pop(database_variable(module.name))
    env: dict[str, Any] = {
        **plain,
        **bus_names(options),
        "DJANGO_DEBUG": "0",
        **https_environment("${PublicHost}", "${HstsSeconds}"),
        # The HTTP API's own host name, and whatever else the parameter adds.
        "DJANGO_ALLOWED_HOSTS": {
            "Fn::Sub": ".execute-api.${AWS::Region}.amazonaws.com,${AllowedHosts}"
        },
        **{f"{name}_SECRET_ARN": {"Ref": parameter} for name, parameter in secrets.items()},
    }
    providers = [
        pair.split("=", 1)[0] for pair in plain.get("MODULITH_SERVICE_URLS", "").split(",")
    ]
    if "MODULITH_SERVICE_URLS" in env:
        # The providers' internal routes are IAM-authorised: calls carry SigV4 too.
        env["MODULITH_INTERNAL_SIGV4"] = "1"
    for name, value in env.items():
        if isinstance(value, str) and "${" in value:
            env[name] = {"Fn::Sub": value}
    return dict(sorted(env.items())), secrets, [name for name in providers if name]


def _function(
    module: Module,
    options: DeploymentOptions,
    name: str,
    env: dict[str, Any],
    statements: list[dict[str, Any]],
) -> dict[str, Any]:
    logical = _logical(name)
    function_name = f"{options.queue_prefix}-{module.name}-{name}"
    timeout = {
        "web": WEB_TIMEOUT_SECONDS,
        "consume": CONSUME_TIMEOUT_SECONDS,
        "relay": RELAY_TIMEOUT_SECONDS,
        "migrate": MIGRATE_TIMEOUT_SECONDS,
    }[name]
    image = (
        {"Fn::If": [MIGRATION_IMAGE, {"Ref": "MigrationImageUri"}, {"Ref": "ImageUri"}]}
        if name == "migrate"
        else {"Ref": "ImageUri"}
    )
    function_role = role(f"{options.queue_prefix}-{module.name}-{name}", statements)
    # Active tracing: Lambda sends the invocations' segments to X-Ray with the function's role.
    function_role["Properties"]["ManagedPolicyArns"] = [managed_policy(XRAY_POLICY)]
    return {
        f"{logical}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/lambda/{function_name}",
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
        f"{logical}Role": function_role,
        f"{logical}Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": function_name,
                "PackageType": "Image",
                "Code": {"ImageUri": image},
                "ImageConfig": {"Command": ["lambda", name]},
                "Architectures": ["x86_64"],
                "MemorySize": options.memory,
                "Timeout": timeout,
                "Role": {"Fn::GetAtt": [f"{logical}Role", "Arn"]},
                "Environment": {"Variables": env},
                "VpcConfig": {
                    "SubnetIds": {"Ref": "SubnetIds"},
                    "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
                },
                "LoggingConfig": {"LogGroup": {"Ref": f"{logical}LogGroup"}},
                "TracingConfig": {"Mode": "Active"},
            },
        },
    }


def _event_source(module: Module, names: ResourceNames) -> dict[str, Any]:
    return {
        "ConsumeEventSource": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": queue_arn(names.queue(module.name)),
                "FunctionName": {"Ref": "ConsumeFunction"},
                "BatchSize": 10,
                # The function names the records that failed; the others are deleted.
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                # Off until the first release has migrated the databases.
                "Enabled": {"Fn::If": [CONSUMING, True, False]},
                # Consumers at once, and so database connections at once, at most.
                "ScalingConfig": {"MaximumConcurrency": {"Ref": "ConsumerConcurrency"}},
            },
        }
    }


def _schedule() -> dict[str, Any]:
    return {
        "RelaySchedule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": RELAY_SCHEDULE,
                "State": "ENABLED",
                "Targets": [{"Id": "relay", "Arn": {"Fn::GetAtt": ["RelayFunction", "Arn"]}}],
            },
        },
        "RelaySchedulePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": "RelayFunction"},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["RelaySchedule", "Arn"]},
            },
        },
    }


def _http_api(module: Module, options: DeploymentOptions) -> dict[str, Any]:
    """The module's routes on an HTTP API: this stack's own, or the shop's one front door when
    HttpApiId names it. `/api/<module>` is public; `/internal/<module>/` is IAM-authorised:
    API Gateway admits only SigV4-signed calls of the roles granted `execute-api:Invoke` on it
    (the functions of the modules that use the module's query port), and the web function
    still verifies their HMAC signature. The stage this stack creates is throttled and logs
    every request."""
    api_id = {"Fn::If": [OWN_API, {"Ref": "HttpApi"}, {"Ref": "HttpApiId"}]}
    routes: dict[str, str] = {}  # route key: its authorisation
    if module.api:
        routes |= {f"ANY /api/{module.name}": "NONE", f"ANY /api/{module.name}/{{proxy+}}": "NONE"}
    if module.provides:
        routes[f"POST {internal_path(module.name)}"] = "AWS_IAM"
    resources = {
        f"{_route_name(key.split(' ', 1)[1])}Route": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": api_id,
                "RouteKey": key,
                "AuthorizationType": authorization,
                "Target": {"Fn::Sub": "integrations/${WebIntegration}"},
            },
        }
        for key, authorization in routes.items()
    }
    return {
        "HttpApi": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Condition": OWN_API,
            "Properties": {"Name": f"{options.queue_prefix}-{module.name}", "ProtocolType": "HTTP"},
        },
        "HttpApiAccessLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Condition": OWN_API,
            "Properties": {
                "LogGroupName": f"/aws/http-api/{options.queue_prefix}-{module.name}",
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
        "HttpApiStage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Condition": OWN_API,
            "Properties": {
                "ApiId": {"Ref": "HttpApi"},
                "StageName": "$default",
                "AutoDeploy": True,
                "DefaultRouteSettings": {
                    "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
                    "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
                },
                "AccessLogSettings": {
                    "DestinationArn": {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]},
                    "Format": ACCESS_LOG_FORMAT,
                },
            },
        },
        "WebIntegration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": api_id,
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": {"Fn::GetAtt": ["WebFunction", "Arn"]},
                "PayloadFormatVersion": "2.0",
                "TimeoutInMillis": WEB_TIMEOUT_SECONDS * 1000,
            },
        },
        **resources,
        "WebApiPermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": "WebFunction"},
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                        "${Api}/*",
                        {"Api": api_id},
                    ]
                },
            },
        },
    }


def _alb_target(module: Module, options: DeploymentOptions) -> dict[str, Any]:
    """The web function as the target of an existing ALB listener's rule for the module's
    public paths, when AlbListenerArn is given."""
    if not module.api:
        return {}
    group = f"{options.queue_prefix}-{module.name}-web"[:32]
    return {
        "WebAlbPermission": {
            "Type": "AWS::Lambda::Permission",
            "Condition": BEHIND_ALB,
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": "WebFunction"},
                "Principal": "elasticloadbalancing.amazonaws.com",
                "SourceArn": {
                    "Fn::Sub": "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:"
                    f"${{AWS::AccountId}}:targetgroup/{group}/*"
                },
            },
        },
        "WebTargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Condition": BEHIND_ALB,
            # The load balancer may invoke the function once the group exists.
            "DependsOn": "WebAlbPermission",
            "Properties": {
                "Name": group,
                "TargetType": "lambda",
                "Targets": [{"Id": {"Fn::GetAtt": ["WebFunction", "Arn"]}}],
            },
        },
        "WebListenerRule": {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Condition": BEHIND_ALB,
            "Properties": {
                "ListenerArn": {"Ref": "AlbListenerArn"},
                "Priority": {"Ref": "AlbRulePriority"},
                "Conditions": [
                    {
                        "Field": "path-pattern",
                        "PathPatternConfig": {
                            "Values": [f"/api/{module.name}", f"/api/{module.name}/*"]
                        },
                    }
                ],
                "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "WebTargetGroup"}}],
            },
        },
    }


def _parameters(
    module: Module, secrets: dict[str, str], providers: list[str], *, with_web: bool
) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "ImageUri": {
            "Type": "String",
            "Description": "The image in ECR, by tag or digest (the same for every function)",
        },
        "MigrationImageUri": {
            "Type": "String",
            "Default": "",
            "Description": "The image of the migrate function (the release's, migrated before "
            "ImageUri moves to it); empty: ImageUri",
        },
        "PublicHost": {
            "Type": "String",
            "Description": "The public host name the module answers for (a custom domain, or "
            "the HTTP API's own): its https origin is trusted for CSRF",
        },
        "HstsSeconds": HSTS_SECONDS_PARAMETER,
        "AlertTopicArn": {
            "Type": "String",
            "Default": "",
            "Description": "The SNS topic the alarms notify (the ECS shared stack's "
            "AlertTopicArn output, say); empty: none",
        },
        **age_parameter(),
        "SubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Private subnets that reach the module's database, and SQS, "
            "EventBridge and Secrets Manager (VPC endpoints or a NAT gateway)",
        },
        "SecurityGroupIds": {
            "Type": "List<AWS::EC2::SecurityGroup::Id>",
            "Description": "Security groups the database admits",
        },
        "AllowedHosts": {
            "Type": "String",
            "Default": "",
            "Description": "Host names the web function answers besides the HTTP API's own "
            "(a custom domain, the ALB's), comma-separated",
        },
    }
    if module.handles:
        parameters["ConsumeEnabled"] = {
            "Type": "String",
            "Default": "true",
            "AllowedValues": ["true", "false"],
            "Description": "Whether the consume function takes the queue's messages (false "
            "until a first release has migrated the databases)",
        }
        parameters["ConsumerConcurrency"] = {
            "Type": "Number",
            "Default": 5,
            "MinValue": 2,
            "MaxValue": 1000,
            "Description": "The most consume functions at once (each holds database connections)",
        }
    if with_web:
        parameters |= {
            "HttpApiId": {
                "Type": "String",
                "Default": "",
                "Description": "The HTTP API to add the module's routes to (the one front door); "
                "empty: this stack creates one",
            },
            "AlbListenerArn": {
                "Type": "String",
                "Default": "",
                "Description": "An ALB listener to route the module's public paths to the web "
                "function too; empty: none",
            },
            "AlbRulePriority": {
                "Type": "Number",
                "Default": 100,
                "MinValue": 1,
                "MaxValue": 50000,
                "Description": "The priority of the module's rule on that listener",
            },
            "ThrottlingRateLimit": {
                "Type": "Number",
                "Default": THROTTLING_RATE,
                "MinValue": 1,
                "Description": "Requests a second the stage this stack creates lets through, "
                "steadily (more answer 429)",
            },
            "ThrottlingBurstLimit": {
                "Type": "Number",
                "Default": THROTTLING_BURST,
                "MinValue": 1,
                "Description": "Requests the stage this stack creates lets through at once, "
                "above the steady rate",
            },
        }
    for variable, parameter in secrets.items():
        parameters[parameter] = {
            "Type": "String",
            "Description": f"The Secrets Manager secret holding {variable}",
        }
    for provider in providers:
        parameters[f"{_logical(provider)}ServiceUrl"] = {
            "Type": "String",
            "Description": f"Where {provider}'s service answers {module.name}'s signed calls",
        }
        parameters[_api_parameter(provider)] = {
            "Type": "String",
            "Description": f"The id of the HTTP API that routes {provider}'s internal calls "
            f"(the one front door's, or {provider}'s stack's HttpApiId output)",
        }
    return parameters


def _outputs(roles: list[str]) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        f"{_logical(name)}FunctionArn": {
            "Value": {"Fn::GetAtt": [f"{_logical(name)}Function", "Arn"]}
        }
        for name in roles
    }
    if "web" in roles:
        outputs["HttpApiEndpoint"] = {
            "Condition": OWN_API,
            "Value": {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]},
        }
        outputs["HttpApiId"] = {"Condition": OWN_API, "Value": {"Ref": "HttpApi"}}
    return outputs


def internal_path(provider: str) -> str:
    return f"/internal/{provider}/{{proxy+}}"


def _api_parameter(provider: str) -> str:
    return f"{_logical(provider)}HttpApiId"


def _route_name(path: str) -> str:
    """/api/orders/{proxy+} -> ApiOrdersProxy"""
    parts = path.replace("{proxy+}", "proxy").strip("/").split("/")
    return "".join(_logical(part) for part in parts)
