"""`ecs/shared.json`: what every module service on ECS shares, deployed once before them: the
cluster, the Cloud Map private DNS namespace (`<module>.internal`), the internet-facing ALB
with its HTTPS listener (anything no module routes is a 404) and HTTP's redirect to it, the
security groups of the ALB and of the tasks, the modules' log groups, the SNS topic the
alarms notify, and the messaging topology (the bus, the queues and their dead-letter queues,
the rules, and with sns the topics). The module stacks import its exports by the name of
this stack (their SharedStack parameter)."""

from typing import Any

from modulith.aws.cloudformation import template as topology_template
from modulith.aws.resources import aws_topology
from modulith.modules import Topology
from modulith.tooling.deployment.cfn import Template, export, logical
from modulith.tooling.deployment.options import DeploymentOptions

LOG_RETENTION_DAYS = 30
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
NOT_ROUTED = '{"error": "not_found", "message": "no route for this path"}'


def log_group(module: str, options: DeploymentOptions) -> str:
    return f"/{options.queue_prefix}/{module}"


def shared_template(topology: Topology, options: DeploymentOptions) -> Template:
    resources: dict[str, Any] = {
        "Cluster": {
            "Type": "AWS::ECS::Cluster",
            "Properties": {
                "ClusterName": options.queue_prefix,
                # Container Insights: the running task counts the consumers scale on.
                "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
                "CapacityProviders": ["FARGATE", "FARGATE_SPOT"],
            },
        },
        "Namespace": {
            "Type": "AWS::ServiceDiscovery::PrivateDnsNamespace",
            "Properties": {
                "Name": options.namespace,
                "Vpc": {"Ref": "VpcId"},
                "Description": "The module services, by name: <module>.internal",
            },
        },
        **_network(options),
        **_load_balancer(),
        "AlertTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": f"{options.queue_prefix}-alerts"},
        },
        **{
            f"{logical(m.name)}LogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": log_group(m.name, options),
                    "RetentionInDays": LOG_RETENTION_DAYS,
                },
            }
            for m in topology.modules
        },
    }
    messaging = topology_template(
        aws_topology(
            topology,
            options.names,
            max_receives=options.max_receives,
            visibility_timeout=options.visibility_timeout,
            fan_out=options.transport == "sns",
        )
    )
    resources |= messaging["Resources"]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "What every module service on ECS shares: cluster, Cloud Map namespace, ALB, "
            "security groups, log groups, alert topic and the messaging topology; generated "
            "from the module manifests"
        ),
        "Parameters": _parameters(),
        "Resources": resources,
        "Outputs": _outputs(options) | messaging["Outputs"],
    }


def _network(options: DeploymentOptions) -> dict[str, Any]:
    """The ALB takes HTTPS and HTTP from anywhere; the tasks take the app's port from the ALB
    and from each other (the signed internal calls), nothing else."""
    return {
        "LoadBalancerSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "The front door: HTTPS, and HTTP redirected to it",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "0.0.0.0/0"}
                    for port in (443, 80)
                ],
            },
        },
        "ServiceSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "The tasks of the module services",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {
                        "Description": "The ALB, to the web containers",
                        "IpProtocol": "tcp",
                        "FromPort": options.port,
                        "ToPort": options.port,
                        "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"},
                    }
                ],
            },
        },
        "ServiceToServiceIngress": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "Description": "The services' signed internal calls to each other",
                "GroupId": {"Ref": "ServiceSecurityGroup"},
                "IpProtocol": "tcp",
                "FromPort": options.port,
                "ToPort": options.port,
                "SourceSecurityGroupId": {"Ref": "ServiceSecurityGroup"},
            },
        },
    }


def _load_balancer() -> dict[str, Any]:
    return {
        "LoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Type": "application",
                "Scheme": "internet-facing",
                "Subnets": {"Ref": "PublicSubnetIds"},
                "SecurityGroups": [{"Ref": "LoadBalancerSecurityGroup"}],
                "LoadBalancerAttributes": [
                    {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                    {"Key": "idle_timeout.timeout_seconds", "Value": "60"},
                ],
            },
        },
        "HttpsListener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": {"Ref": "LoadBalancer"},
                "Port": 443,
                "Protocol": "HTTPS",
                "SslPolicy": TLS_POLICY,
                "Certificates": [{"CertificateArn": {"Ref": "CertificateArn"}}],
                # The module stacks add their path rules; anything else is not found.
                "DefaultActions": [
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {
                            "StatusCode": "404",
                            "ContentType": "application/json",
                            "MessageBody": NOT_ROUTED,
                        },
                    }
                ],
            },
        },
        "HttpListener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": {"Ref": "LoadBalancer"},
                "Port": 80,
                "Protocol": "HTTP",
                "DefaultActions": [
                    {
                        "Type": "redirect",
                        "RedirectConfig": {
                            "Protocol": "HTTPS",
                            "Port": "443",
                            "StatusCode": "HTTP_301",
                        },
                    }
                ],
            },
        },
    }


def _parameters() -> dict[str, Any]:
    return {
        "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "The VPC of the services"},
        "PublicSubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Public subnets of two zones or more, for the ALB",
        },
        "PrivateSubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Private subnets of the tasks, which reach the databases, ECR, SQS, "
            "EventBridge, Secrets Manager, CloudWatch and X-Ray (VPC endpoints or a NAT)",
        },
        "CertificateArn": {
            "Type": "String",
            "Description": "The ACM certificate of the public host name, for HTTPS",
        },
    }


def _outputs(options: DeploymentOptions) -> dict[str, Any]:
    return {
        "ClusterName": export({"Ref": "Cluster"}, "ClusterName", "The ECS cluster"),
        "NamespaceId": export(
            {"Fn::GetAtt": ["Namespace", "Id"]},
            "NamespaceId",
            f"The Cloud Map namespace {options.namespace}",
        ),
        "VpcId": export({"Ref": "VpcId"}, "VpcId", "The VPC of the services"),
        "PrivateSubnetIds": export(
            {"Fn::Join": [",", {"Ref": "PrivateSubnetIds"}]},
            "PrivateSubnetIds",
            "The tasks' subnets, comma-separated",
        ),
        "ServiceSecurityGroupId": export(
            {"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]},
            "ServiceSecurityGroupId",
            "The tasks' security group",
        ),
        "HttpsListenerArn": export(
            {"Ref": "HttpsListener"}, "HttpsListenerArn", "The listener the path rules join"
        ),
        "LoadBalancerDnsName": export(
            {"Fn::GetAtt": ["LoadBalancer", "DNSName"]},
            "LoadBalancerDnsName",
            "Point the public host name here (an alias record)",
        ),
        "AlertTopicArn": export(
            {"Ref": "AlertTopic"}, "AlertTopicArn", "The topic the alarms notify: subscribe to it"
        ),
    }
