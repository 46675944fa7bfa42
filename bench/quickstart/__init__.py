"""The baseline of the bench: a ChatKit backend written the way the ChatKit Python docs'
quickstart writes it (https://openai.github.io/chatkit-python/quickstart/).

`store.py` is the quickstart's in-memory store and `main.py` its server and endpoint, with the
"Generate model responses" step applied. Nothing is added: no auth, no checks, no logging set-up.
It is what the generated backends are compared with, not an example to follow.
"""
