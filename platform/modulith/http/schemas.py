from ninja import Schema
from pydantic import ConfigDict
from pydantic.alias_generators import to_camel


class CamelSchema(Schema):
    """An API schema whose JSON keys are camelCase (routers serialise by alias)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
