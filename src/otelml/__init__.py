"""otelml: OpenTelemetry-native ML observability."""

from otelml._version import __version__

__all__ = ["__version__"]
