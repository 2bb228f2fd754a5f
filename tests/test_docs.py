"""The documentation that is generated from the code must be current, and the
hand-written parts must name what the code has."""
from pathlib import Path

from moderation import docgen
from moderation.commands import REGISTRY, load_domain
from moderation.config import ENV_PREFIX, SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def test_generated_blocks_are_current():
    for path, (block, make) in docgen.BLOCKS.items():
        text = path.read_text(encoding="utf-8")
        assert docgen.render(text, block, make()) == text, \
            f"{path.name} is out of date: run python -m moderation.docgen"


def test_protocol_names_every_command_and_event():
    load_domain()
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    for spec in REGISTRY.values():
        assert f"### `{spec.name}`" in protocol
        assert spec.operation_id in protocol
    for event in ("snapshot", "change", "private", "session_ended"):
        assert f"| `{event}` |" in protocol


def test_readme_quick_start_has_exactly_two_commands_and_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert quick.count("```sh") == 2
    assert "run.py --demo" in quick and "pytest" in quick and ".[test]" in quick
    for setting in SETTINGS:
        assert f"`{ENV_PREFIX}{setting.name}`" in readme


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[test]'" in ci
    assert "python -m pytest -q" in ci
    assert "MODERATION_REQUIRE_SERVICES=1" in ci
