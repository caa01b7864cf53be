"""Errors an operator can act on. Each message says how to recover."""


class IntakeError(RuntimeError):
    """Base of every error this project raises on purpose."""


class BrokerUnavailable(IntakeError):
    """No Kafka broker could be started or reached."""


class RedisUnavailable(IntakeError):
    """No Redis server answered and none could be started."""


class ConfigError(IntakeError):
    """A file in ``models/`` or ``topics.yaml`` is missing or malformed."""
