from modulith.contracts import Event


class UserRegistered(Event):
    user_id: int
    email: str
