"""The documentation that is generated from the code must be current, and the
hand-written parts must name what the code has."""
from pathlib import Path

from moderation import docgen
from moderation.core.commands import REGISTRY
from moderation.core.config import ENV_PREFIX, SETTINGS
from moderation.features import load_features

ROOT = Path(__file__).resolve().parent.parent


def test_generated_blocks_are_current():
    for path, (block, make) in docgen.BLOCKS.items():
        text = path.read_text(encoding="utf-8")
        assert docgen.render(text, block, make()) == text, \
            f"{path.name} is out of date: run python -m moderation.docgen"


def test_protocol_names_every_command_and_event():
    load_features()
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
    assert "run.py --demo" in quick and "pytest" in quick and ".[test,embeddings]" in quick
    for setting in SETTINGS:
        assert f"`{ENV_PREFIX}{setting.name}`" in readme


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[test,embeddings]'" in ci, "CI tests every backend of the assistant"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [command] = [line for line in readme.splitlines() if ".[test,embeddings]" in line and "pytest" in line]
    pytest_command = ".venv/bin/python -m pytest" + command.split(".venv/bin/python -m pytest", 1)[1]
    assert pytest_command in ci.splitlines(), pytest_command
    assert "MODERATION_REQUIRE_SERVICES=1" in ci


SECURITY = ROOT / "docs" / "security.md"
ASVS_CHAPTERS = ("V1 Encoding and Sanitization", "V2 Validation and Business Logic", "V3 Web Frontend Security",
                 "V4 API and Web Service", "V5 File Handling", "V6 Authentication", "V7 Session Management",
                 "V8 Authorization", "V9 Self-contained Tokens", "V10 OAuth and OIDC", "V11 Cryptography",
                 "V12 Secure Communication", "V13 Configuration", "V14 Data Protection",
                 "V15 Secure Coding and Architecture", "V16 Security Logging and Error Handling", "V17 WebRTC")


def test_regenerating_the_role_matrix_keeps_the_hand_written_security_text():
    text = SECURITY.read_text(encoding="utf-8")
    redone = docgen.render(text, "roles", "| a different | matrix |\n")
    after = "<!-- roles:end -->"
    assert redone.split(after, 1)[1] == text.split(after, 1)[1]
    assert redone.split("<!-- roles:start -->", 1)[0] == text.split("<!-- roles:start -->", 1)[0]


def test_security_covers_every_asvs_chapter_in_order():
    text = SECURITY.read_text(encoding="utf-8")
    positions = [text.find(f"\n### {chapter}\n") for chapter in ASVS_CHAPTERS]
    assert all(p > 0 for p in positions), [c for c, p in zip(ASVS_CHAPTERS, positions, strict=False) if p < 0]
    assert positions == sorted(positions)
    for chapter in ASVS_CHAPTERS:
        section = text.split(f"\n### {chapter}\n", 1)[1].split("\n### ", 1)[0]
        assert "Not applicable" in section or "Gaps:" in section, f"{chapter}: say what is missing (or none known)"


def test_security_names_only_code_and_tests_that_exist():
    """Every `path`, `path::name` and setting the security text names is real."""
    import re
    text = SECURITY.read_text(encoding="utf-8")
    named = re.findall(r"`((?:moderation|tests|static|templates)/[\w/.]+)(?:::(\w+))?`", text)
    assert len(named) > 40
    for path, name in named:
        source = ROOT / path
        assert source.exists(), path
        if name:
            assert re.search(rf"^\s*def {name}\b", source.read_text(encoding="utf-8"), re.M), f"{path}::{name}"
    settings = {s.name for s in SETTINGS}
    for setting in re.findall(r"`([A-Z][A-Z_]+)`", text):
        if setting.endswith("_") or setting in ("SESSION_COOKIE_SECURE", "SECRET_KEY") or setting in settings:
            continue
        assert setting.rstrip("*") in settings, setting


def test_readme_lists_every_command_of_the_command_line():
    """Each command and sub-command of ``moderation`` has its line in the README."""
    import click

    from moderation.cli import main
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            names += [f"moderation {name} {sub}" for sub in command.commands]
        else:
            names.append(f"moderation {name}")
    missing = [name for name in names if name not in readme]
    assert not missing, f"add to the README's command list: {missing}"
