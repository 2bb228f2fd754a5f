"""The features, each in its own package: its commands (``@command``), its
sections (``@section``), its reads (``@read``), and, where it has them, its
pages and API paths (the package's ``init_app``).

The kernel (``moderation.core``) knows none of them: it runs what they
register. Adding a feature touches its package, the models, a migration and
the one line below."""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

FEATURES = ("dialogues", "agenda", "queue", "inputs", "summary", "access", "accreditation", "assist")


def packages() -> Iterator[ModuleType]:
    for name in FEATURES:
        yield importlib.import_module(f"{__name__}.{name}")


def load_features() -> None:
    """Import every module of every feature, so that each registers what it
    declares (idempotent: Python imports a module once)."""
    for package in packages():
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)


def init_app(app) -> None:
    """Load the features and let each register its pages, API paths and
    background work with the application."""
    load_features()
    for package in packages():
        setup = getattr(package, "init_app", None)
        if setup is not None:
            setup(app)
