"""Specialist agents the entry agent can hand off to.

Each module here is discovered at start-up and must expose `NAME: str`,
`HANDOFF_DESCRIPTION: str` and `build_agent(model) -> Agent[ChatAgentContext]`.
`chatkit-scaffold add-agent NAME` creates one.
"""
