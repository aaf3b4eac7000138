"""The attacks on consumers reach the real emulator through the fixtures of tests/aws."""

from tests.aws.conftest import aws, aws_emulator  # noqa: F401  (the emulator and its names)
