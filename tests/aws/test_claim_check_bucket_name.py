"""The claim-check bucket's name is checked at start: a name S3 would refuse, given or derived
from the queue prefix, stops the process in one line that says what to set, before the first
large event or `provision` meets it."""

import subprocess

import pytest

from modulith.aws.names import bucket_name_problem
from tests.processes import manage


def check_on_sqs(**env: str) -> "subprocess.CompletedProcess[str]":
    """`manage.py check` in a process whose events travel over SQS, in ap-southeast-2."""
    return manage(
        "check", timeout=60, MODULITH_TRANSPORT="sqs", AWS_DEFAULT_REGION="ap-southeast-2", **env
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("shop-claim-checks-123456789012-eu-west-1", None),
        ("shop.claims", None),
        ("ab", "it is 2 characters long, where S3 takes 3 to 63"),
        ("a" * 64, "it is 64 characters long, where S3 takes 3 to 63"),
        ("Shop-claims", "S3 takes lowercase letters, digits, dots and hyphens"),
        ("shop_claims", "S3 takes lowercase letters, digits, dots and hyphens"),
        ("-shop", "S3 takes lowercase letters, digits, dots and hyphens"),
        ("shop..claims", "S3 takes lowercase letters, digits, dots and hyphens"),
        ("192.168.1.10", "S3 takes no IP address as a name"),
    ],
)
def test_a_bucket_name_is_checked_by_s3_s_rules(name: str, problem: str | None) -> None:
    found = bucket_name_problem(name)

    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


def test_a_queue_prefix_that_makes_no_bucket_name_stops_the_process_in_one_line() -> None:
    result = check_on_sqs(MODULITH_QUEUE_PREFIX="My_Shop")

    assert result.returncode != 0
    assert result.stderr.strip() == (
        "configuration error: the claim-check bucket named after MODULITH_QUEUE_PREFIX=My_Shop, "
        "my_shop-claim-checks-<account>-ap-southeast-2, is no S3 bucket name (S3 takes lowercase "
        "letters, digits, dots and hyphens, from a letter or digit to a letter or digit): set "
        "MODULITH_CLAIM_CHECK_BUCKET to one, or MODULITH_CLAIM_CHECK=0 to send no event by claim "
        "check"
    )


def test_a_queue_prefix_too_long_for_the_bucket_s_name_names_its_length() -> None:
    result = check_on_sqs(MODULITH_QUEUE_PREFIX="shop-of-the-north-west-1")

    assert result.returncode != 0
    assert "(it is 65 characters long, where S3 takes 3 to 63)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bucket_named_in_the_settings_is_checked_and_then_the_prefix_does_not_matter() -> None:
    refused = check_on_sqs(MODULITH_CLAIM_CHECK_BUCKET="Shop.Claims")
    named = check_on_sqs(
        MODULITH_QUEUE_PREFIX="My_Shop",
        MODULITH_CLAIM_CHECK_BUCKET="my-shop-claims",
    )
    without = check_on_sqs(MODULITH_QUEUE_PREFIX="My_Shop", MODULITH_CLAIM_CHECK="0")

    assert refused.returncode != 0
    assert refused.stderr.startswith(
        "configuration error: MODULITH_CLAIM_CHECK_BUCKET=Shop.Claims is no S3 bucket name"
    )
    assert (named.returncode, without.returncode) == (0, 0), named.stderr + without.stderr
