"""AWS resources for the queue transports: names, clients, provisioning, dead-letter queues."""
