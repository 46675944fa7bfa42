"""``python -m chatkit_scaffold``: the same CLI as the ``chatkit-scaffold`` script."""

from __future__ import annotations

from chatkit_scaffold.cli import main

if __name__ == "__main__":
    main()
