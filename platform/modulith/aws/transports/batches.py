"""The answer of an AWS batch call that names its entries by Id (SQS SendMessageBatch, SNS
PublishBatch): one outcome per entry, in the order they were sent."""

from typing import Any

from modulith.transports.transport import DELIVERED, Outcome

NO_ANSWER = Outcome.retry("the batch's answer did not mention this entry")


def batch_outcomes(count: int, response: dict[str, Any]) -> list[Outcome]:
    """For entries sent with the Ids "0" .. str(count - 1)."""
    outcomes = [NO_ANSWER] * count
    for success in response.get("Successful", []):
        outcomes[int(success["Id"])] = DELIVERED
    for failure in response.get("Failed", []):
        # A sender fault (say, an invalid attribute) fails the same way every time.
        error = f"{failure.get('Code')}: {failure.get('Message', '')}"
        outcomes[int(failure["Id"])] = (
            Outcome.dead(error, "rejected") if failure.get("SenderFault") else Outcome.retry(error)
        )
    return outcomes
