"""Generates the parts of the documentation that come from the code: the
command reference in ``docs/protocol.md`` and the settings table in the
README. ``python -m moderation.docgen`` rewrites them in place;
``tests/test_docs.py`` fails when they are out of date."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from moderation.core.commands import REGISTRY, CommandSpec
from moderation.core.config import ENV_PREFIX, SETTINGS
from moderation.core.localtime import DATE_TIME_SCHEMA
from moderation.core.storable import SINGLE_LINE_PATTERN
from moderation.features import load_features

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = {
    ROOT / "docs" / "protocol.md": ("commands", lambda: command_reference()),
    ROOT / "README.md": ("settings", lambda: settings_table()),
    ROOT / "docs" / "security.md": ("roles", lambda: role_matrix()),
}


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return "object " + name if name in defs else name
    if "anyOf" in schema:
        return " or ".join(_type(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if schema == DATE_TIME_SCHEMA:
        return "date and time, 2000–2100 (ISO 8601, offset optional)"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), defs)}"
    limits = ["one line"] if schema.get("pattern") == SINGLE_LINE_PATTERN else []
    for key, label in (("minLength", "min"), ("maxLength", "max"), ("minimum", "≥"), ("maximum", "≤")):
        if key in schema:
            limits.append(f"{label} {schema[key]}")
    return kind + (f" ({', '.join(limits)})" if limits else "")


def _fields(spec: CommandSpec) -> list[str]:
    schema = spec.payload.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        default = "" if name in required else f" (default `{prop.get('default')}`)" if "default" in prop else ""
        description = prop.get("description", "")
        rows.append(f"| `{name}` | {_type(prop, defs)} | {'yes' if name in required else 'no'}{default} "
                    f"| {description} |")
    for def_name, definition in defs.items():
        inner = ", ".join(f"`{k}`: {_type(v, defs)}" for k, v in definition.get("properties", {}).items())
        rows.append(f"| ↳ `{def_name}` | {inner} | | |")
    return rows


def command_reference() -> str:
    load_features()
    out = []
    for spec in sorted(REGISTRY.values(), key=lambda s: s.name):
        roles = "anyone (public)" if spec.public else ", ".join(sorted(r.value for r in spec.roles))
        out += [f"### `{spec.name}`", "", spec.summary, ""]
        if spec.description:
            out += [spec.description, ""]
        out += [f"- Socket.IO event: `{spec.name}`, data `{{payload, idempotency_key}}`",
                f"- HTTP: `POST /api/v1{spec.http_path}` (operationId `{spec.operation_id}`)",
                f"- Roles: {roles}"]
        if spec.secret:
            out.append(f"- Shown once: {', '.join(f'`{name}`' for name in spec.secret)} in the answer (a replayed "
                       "answer leaves it out and says `secret_shown_once: true`)")
        out.append("")
        fields = _fields(spec)
        if fields:
            out += ["| field | type | required | meaning |", "|---|---|---|---|", *fields, ""]
    return "\n".join(out).rstrip() + "\n"


def role_matrix() -> str:
    """Which role may run which command, from the registry."""
    from moderation.models import Role

    load_features()
    roles = list(Role)
    rows = ["| command | " + " | ".join(r.value for r in roles) + " | anonymous |",
            "|---|" + "---|" * (len(roles) + 1)]
    for spec in sorted(REGISTRY.values(), key=lambda s: s.name):
        marks = ["✓" if spec.public or role in spec.roles else "" for role in roles]
        rows.append(f"| `{spec.name}` | " + " | ".join(marks) + f" | {_anonymous(spec)} |")
    return "\n".join(rows) + "\n"


def _anonymous(spec: CommandSpec) -> str:
    """Public commands need no sign-in; a code in the payload is then the right."""
    if not spec.public:
        return ""
    return "✓ (with the join code)" if "code" in spec.payload.model_fields else "✓"


def settings_table() -> str:
    rows = ["| environment variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = "—" if setting.default in (None, []) else f"`{setting.default}`"
        rows.append(f"| `{ENV_PREFIX}{setting.name}` | {default} | {setting.help} |")
    return "\n".join(rows) + "\n"


def render(text: str, block: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- {block}:start -->\n).*?(<!-- {block}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no <!-- {block}:start --> ... <!-- {block}:end --> markers")
    return pattern.sub(lambda m: m.group(1) + content + m.group(2), text)


def main() -> int:
    for path, (block, make) in BLOCKS.items():
        text = path.read_text(encoding="utf-8")
        new = render(text, block, make())
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
