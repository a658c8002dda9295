"""The README documents every setting and the two commands it promises."""

from pathlib import Path

from app.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_setting_and_both_commands():
    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert missing == []
    assert "bin/run" in readme and "bin/test" in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("bin/test")
