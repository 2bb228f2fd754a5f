"""Start the server from a checkout: ``python run.py [--host H] [--port P] [--demo] [--async-mode M]``.

The same as ``moderation run`` or ``python -m moderation.server``: the async
library (eventlet by default, or ``--async-mode`` / ``MODERATION_ASYNC_MODE``)
is patched first, before the application is imported (``moderation.server``).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moderation.server import launch  # noqa: E402 - only the standard library is imported here

if __name__ == "__main__":
    sys.exit(launch())
