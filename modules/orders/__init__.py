"""Orders: taking orders and following them to confirmation or cancellation."""
