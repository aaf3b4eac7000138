"""The AWS transports, found by name through the transport registry: SQS, SNS, EventBridge."""
