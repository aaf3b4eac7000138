"""The framework's AWS Lambda functions, one handler each, for the image's `lambda` role
(`python -m awslambdaric <handler>`):

- `modulith.aws.lambdas.web.handler`: the Django app behind API Gateway (HTTP API, payload 2.0;
  REST API, 1.0) or an ALB target group;
- `modulith.aws.lambdas.consume.handler`: an SQS event source of the running modules' queues,
  answering the records that failed (`batchItemFailures`);
- `modulith.aws.lambdas.relay.handler`: a scheduled sweep of the running modules' outboxes.

Importing a handler's module is the function's cold start: Django is set up once per
execution environment (`modulith.aws.lambdas.start`).
"""

__all__: list[str] = []
