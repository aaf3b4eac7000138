"""`ecs/release-<module>.sh` and `lambda/release-<module>.sh`: one module's release, on its
own: the image built and pushed (unless the repository has the tag), the databases migrated
from the new image while the services still run the old one, the module's stack moved to the
new image, and a wait until it is stable; a deployment that does not get there is rolled
back (ECS's circuit breaker, CloudFormation's rollback) and the script fails. Each step looks
before it acts, so running a release twice does nothing the second time; `--dry-run` prints
what it would do, and does nothing.

A first release creates the stack with nothing taking work (no tasks; the consume function's
event source off), migrates, then lets the services start."""

from modulith.modules import Module
from modulith.tooling.deployment.service import GENERATED

COMMON = r"""set -euo pipefail

usage() {
    cat >&2 <<USAGE
usage: $0 --tag TAG [--stack NAME] [--shared-stack NAME] [--parameters FILE] [--dry-run]

  --tag TAG          the image tag to release (a commit, a version)
  --stack NAME       the module's stack (default: $STACK)
  --shared-stack NAME  ECS: the shared stack (default: ${SHARED_STACK:-none})
  --parameters FILE  the stack's parameters, one Key=Value a line (# comments): those this
                     script does not set itself (PublicHost, the secrets' ARNs, ...)
  --dry-run          print what would be done, do nothing

Environment: REPOSITORY, the image repository in ECR
(123456789012.dkr.ecr.REGION.amazonaws.com/NAME); the AWS CLI's own (AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL, ...); CONTAINER_ENGINE (docker, or podman) and BUILD_CONTEXT
(the project, where the Dockerfile is) for the build.
USAGE
    exit 64
}

TAG=""
PARAMETERS=""
DRY_RUN=0
while [ "$#" -gt 0 ]; do
    case "$1" in
    --tag) TAG=${2:-}; shift 2 || usage ;;
    --stack) STACK=${2:-}; shift 2 || usage ;;
    --shared-stack) SHARED_STACK=${2:-}; shift 2 || usage ;;
    --parameters) PARAMETERS=${2:-}; shift 2 || usage ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) usage ;;
    esac
done
[ -n "$TAG" ] || usage
: "${REPOSITORY:?set REPOSITORY to the image repository in ECR}"
IMAGE="$REPOSITORY:$TAG"
ENGINE=${CONTAINER_ENGINE:-docker}
CONTEXT=${BUILD_CONTEXT:-$(cd "$(dirname "$0")/../.." && pwd)}
TEMPLATE="$(cd "$(dirname "$0")" && pwd)/$(basename "$TEMPLATE_FILE")"

say() { printf '==> %s\n' "$*"; }

# What changes anything goes through here: printed, and run unless --dry-run.
act() {
    printf '+ %s\n' "$*"
    [ "$DRY_RUN" -eq 1 ] || "$@"
}

# The AWS CLI at the endpoint AWS_ENDPOINT_URL names, if any (v1 does not read it itself).
aws() { command aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} "$@"; }

user_parameters() {
    [ -n "$PARAMETERS" ] || return 0
    grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$PARAMETERS"
}

stack_exists() {
    aws cloudformation describe-stacks --stack-name "$STACK" >/dev/null 2>&1
}

output() { # output NAME [STACK]: one output of the module's stack (or another)
    aws cloudformation describe-stacks --stack-name "${2:-$STACK}" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

deploy() { # deploy KEY=VALUE...: the stack with these parameters and the user's
    local -a overrides
    mapfile -t overrides < <(user_parameters)
    [ -z "${SHARED_STACK:-}" ] || overrides+=("SharedStack=$SHARED_STACK")
    act aws cloudformation deploy --stack-name "$STACK" --template-file "$TEMPLATE" \
        --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
        --parameter-overrides "$@" "${overrides[@]}"
}

image() {
    local repository=${REPOSITORY#*/} registry=${REPOSITORY%%/*}
    if aws ecr describe-images --repository-name "$repository" \
        --image-ids imageTag="$TAG" >/dev/null 2>&1; then
        say "$IMAGE is in the repository already"
        return 0
    fi
    say "building and pushing $IMAGE"
    act "$ENGINE" build --tag "$IMAGE" "$CONTEXT"
    if [ "$DRY_RUN" -eq 1 ]; then
        printf '+ aws ecr get-login-password | %s login --username AWS --password-stdin %s\n' \
            "$ENGINE" "$registry"
    else
        aws ecr get-login-password | "$ENGINE" login --username AWS --password-stdin "$registry"
    fi
    act "$ENGINE" push "$IMAGE"
}
"""

ECS = r"""
migrate() {
    local cluster task_definition subnets group task
    if [ "$DRY_RUN" -eq 1 ] && ! stack_exists; then
        say "would run the migration task of the new stack and wait for it"
        return 0
    fi
    cluster=$(output ClusterName "$SHARED_STACK")
    task_definition=$(output MigrateTaskDefinitionArn)
    subnets=$(output PrivateSubnetIds "$SHARED_STACK")
    group=$(output ServiceSecurityGroupId "$SHARED_STACK")
    say "migrating with $task_definition"
    if [ "$DRY_RUN" -eq 1 ]; then
        act aws ecs run-task --cluster "$cluster" --task-definition "$task_definition" ...
        return 0
    fi
    task=$(aws ecs run-task --cluster "$cluster" --task-definition "$task_definition" \
        --launch-type FARGATE --started-by release \
        --network-configuration \
        "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$group],assignPublicIp=DISABLED}" \
        --query 'tasks[0].taskArn' --output text)
    aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
    status=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
        --query "tasks[0].containers[?name=='migrate'].exitCode | [0]" --output text)
    if [ "$status" != "0" ]; then
        say "the migration failed (exit $status; its log is in the module's log group)"
        say "the services still run their previous image"
        exit 1
    fi
}

stable() {
    local cluster
    if [ "$DRY_RUN" -eq 1 ]; then
        act aws ecs wait services-stable --services "${SERVICES[@]}"
        return 0
    fi
    cluster=$(output ClusterName "$SHARED_STACK")
    act aws ecs wait services-stable --cluster "$cluster" --services "${SERVICES[@]}"
}

image
if stack_exists; then
    say "the new image's migration task, the services untouched"
    deploy "MigrationImageUri=$IMAGE"
else
    say "a first release: the stack without tasks, to migrate before any starts"
    deploy "ImageUri=$IMAGE" "MigrationImageUri=$IMAGE" "${IDLE[@]}"
fi
migrate
say "the services to $IMAGE (a deployment that fails rolls back)"
if ! deploy "ImageUri=$IMAGE" "MigrationImageUri=$IMAGE" "${RUNNING[@]}"; then
    say "the deployment did not become stable and was rolled back"
    exit 1
fi
stable
say "released $IMAGE"
"""

LAMBDA = r"""
migrate() {
    local answer
    say "migrating with $FUNCTION_PREFIX-migrate"
    if [ "$DRY_RUN" -eq 1 ]; then
        act aws lambda invoke --function-name "$FUNCTION_PREFIX-migrate" ...
        return 0
    fi
    answer=$(mktemp)
    error=$(aws lambda invoke --function-name "$FUNCTION_PREFIX-migrate" \
        --cli-binary-format raw-in-base64-out --payload '{}' \
        --query FunctionError --output text "$answer")
    if [ -n "$error" ] && [ "$error" != "None" ]; then
        say "the migration failed ($error): $(cat "$answer")"
        say "the functions still run their previous image"
        exit 1
    fi
    rm -f "$answer"
}

stable() {
    local function
    for function in "${FUNCTIONS[@]}"; do
        act aws lambda wait function-updated-v2 --function-name "$FUNCTION_PREFIX-$function"
    done
}

image
if stack_exists; then
    say "the new image's migrate function, the others untouched"
    deploy "MigrationImageUri=$IMAGE"
else
    say "a first release: the stack with its event source off, to migrate before it consumes"
    deploy "ImageUri=$IMAGE" "MigrationImageUri=$IMAGE" "${IDLE[@]}"
fi
migrate
say "the functions to $IMAGE (a stack update that fails rolls back)"
if ! deploy "ImageUri=$IMAGE" "MigrationImageUri=$IMAGE" "${RUNNING[@]}"; then
    say "the update failed and was rolled back"
    exit 1
fi
stable
say "released $IMAGE"
"""


def ecs_release_script(module: Module, prefix: str, *, web_tasks: int) -> str:
    services = [f"{prefix}-{module.name}-web"]
    idle = ["WebMinTasks=0"]
    running = [f"WebMinTasks={web_tasks}"]
    if module.handles:
        services.append(f"{prefix}-{module.name}-consumer")
        idle.append("ConsumerMinTasks=0")
        running.append("ConsumerMinTasks=1")
    return _script(
        f"Releases the {module.name} module service on ECS (deploy/ecs/{module.name}.json).",
        {
            "STACK": f"{prefix}-{module.name}",
            "SHARED_STACK": f"{prefix}-shared",
            "TEMPLATE_FILE": f"{module.name}.json",
            "SERVICES": services,
            "IDLE": idle,
            "RUNNING": running,
        },
        ECS,
    )


def lambda_release_script(module: Module, prefix: str, functions: list[str]) -> str:
    return _script(
        f"Releases the {module.name} module on AWS Lambda (deploy/lambda/{module.name}.json).",
        {
            "STACK": f"{prefix}-{module.name}-lambda",
            "TEMPLATE_FILE": f"{module.name}.json",
            "FUNCTION_PREFIX": f"{prefix}-{module.name}",
            "FUNCTIONS": functions,
            "IDLE": ["ConsumeEnabled=false"] if module.handles else [],
            "RUNNING": ["ConsumeEnabled=true"] if module.handles else [],
        },
        LAMBDA,
    )


def _script(summary: str, values: dict[str, str | list[str]], steps: str) -> str:
    assignments = "\n".join(
        f"{name}=({' '.join(value)})" if isinstance(value, list) else f'{name}="{value}"'
        for name, value in values.items()
    )
    return (
        "#!/usr/bin/env bash\n"
        f"# {GENERATED}; a test compares it.\n"
        f"# {summary}\n"
        "# Build and push the image, migrate from it, move the stack to it, wait until it is\n"
        "# stable. Idempotent; --dry-run prints what it would do.\n"
        f"{assignments}\n{COMMON}{steps}"
    )
