"""Configuration: the only reader of files and the environment. See docs/configuration.md."""

from vigil.config.loader import ConfigError, ConfigProblem
from vigil.config.schema import Service, VigilConfig, load_config, parse_config
from vigil.config.types import Duration, Secret, format_duration, parse_duration

__all__ = ["ConfigError", "ConfigProblem", "Duration", "Secret", "Service", "VigilConfig",
           "format_duration", "load_config", "parse_config", "parse_duration"]
