"""A ChatKit backend on FastAPI and the OpenAI Agents SDK."""
