"""Moved to `modulith.aws.lambdas`: the handlers' old paths (`modulith.lambdas.web.handler` and
the others, named in deployed templates) keep working, with a DeprecationWarning."""
