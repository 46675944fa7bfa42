"""A ChatKit backend on FastAPI and the OpenAI Agents SDK."""

from .settings import SettingsError, check_environment_log_level

# Runs before any module of the package imports the ChatKit SDK, which reads LOG_LEVEL on import
# and fails with a bare traceback on a level it does not know. The message alone is printed.
try:
    check_environment_log_level()
except SettingsError as exc:
    raise SystemExit(str(exc)) from None
