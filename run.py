"""Start the server: ``python run.py [--host H] [--port P] [--demo]``.

The async library is patched here, first, before anything else is imported,
as eventlet and gevent require. The mode comes from ``--async-mode`` or
``MODERATION_ASYNC_MODE`` (default: eventlet).
"""
import os
import sys

ASYNC_MODE = os.environ.get("MODERATION_ASYNC_MODE", "eventlet")
for _i, _arg in enumerate(sys.argv):
    if _arg == "--async-mode" and _i + 1 < len(sys.argv):
        ASYNC_MODE = sys.argv[_i + 1]
    elif _arg.startswith("--async-mode="):
        ASYNC_MODE = _arg.split("=", 1)[1]

if ASYNC_MODE == "eventlet":
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import eventlet
    eventlet.monkey_patch()
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()
    try:  # make psycopg2 (PostgreSQL) yield to other greenlets
        from psycogreen.gevent import patch_psycopg
    except ImportError:
        pass
    else:
        patch_psycopg()

os.environ["MODERATION_ASYNC_MODE"] = ASYNC_MODE
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moderation.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
