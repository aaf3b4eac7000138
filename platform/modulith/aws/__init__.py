"""AWS: the queue transports (SQS, SNS, EventBridge), their consumer and dead-letter queues,
provisioning and resource names, and the Lambda functions of the image's `lambda` role."""
