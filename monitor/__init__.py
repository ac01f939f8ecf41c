"""Feed-monitoring and alerting daemon: polls feeds, matches watch rules, delivers alerts."""

__version__ = "0.1.0"
