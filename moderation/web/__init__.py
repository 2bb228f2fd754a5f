"""The web layer: pages, the JSON API, Socket.IO and what they share
(who is asking, error answers, sessions, limits). It imports the kernel, never
a feature; features register their own pages and API paths with it."""
from moderation.web.principal import current_actor, service

__all__ = ["current_actor", "service"]
