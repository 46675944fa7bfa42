"""A ChatKit backend on FastAPI and the OpenAI Agents SDK."""

from .settings import check_environment_log_level

# Runs before any module of the package imports the ChatKit SDK, which reads LOG_LEVEL on import.
check_environment_log_level()
