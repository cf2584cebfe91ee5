"""The rails' data files: they load, every fragment they use exists, every rule compiles, and
the dosing rules' trigger words never hide a rule that would fire."""

from __future__ import annotations

import json
import re

import pytest

from assistant.config import ROOT
from assistant.rails import data
from assistant.rails.dosing import rules
from assistant.rails.normalise import detection_form


@pytest.mark.parametrize("name", ["dosing", "doses", "intents", "lexicon", "replies"])
def test_each_data_file_loads(name):
    assert data.load(name)


def test_an_unknown_fragment_is_an_error():
    with pytest.raises(KeyError, match="nope"):
        data.expand("a${nope}b", {})


def test_fragments_expand_recursively():
    assert data.expand(["(?:", "${a}", ")"], {"a": "x|${b}", "b": "y"}) == "(?:x|y)"


def test_every_reason_has_a_reply():
    from assistant.rails import REASONS

    refusals = data.load("replies")["refusals"]
    assert set(REASONS) == set(refusals)


def test_the_registry_is_the_one_list_of_rails():
    """Each rail of rails.toml has its patterns, a badge and cases; nothing else names a rail."""
    from assistant.rails.registry import HELP_FIRST, RAILS

    patterned = {rail["name"] for rail in data.load("intents")["rails"]} | {"dosing"}
    assert {rail.name for rail in RAILS} == patterned
    assert all(rail.badge and rail.style in ("help", "refused") for rail in RAILS)
    assert HELP_FIRST == ("crisis", "emergency")
    cases = (ROOT / "evals" / "cases" / "rails.jsonl").read_text(encoding="utf-8")
    reasons = {json.loads(line).get("reason") for line in cases.splitlines() if line.strip()}
    assert {rail.name for rail in RAILS} <= reasons


def _messages() -> list[str]:
    out = []
    for path in sorted((ROOT / "evals" / "cases").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out += json.loads(line).get("turns", [])
    return out


def test_trigger_words_never_hide_a_rule_that_fires():
    """A rule's trigger list is a shortcut: on every message of the eval cases, trying a rule
    only when its trigger words are present must give what trying it always gives."""
    letters = re.compile(r"[a-z]+")
    for message in _messages():
        d = detection_form(message)
        present = set(letters.findall(d))
        for rule in rules():
            assert rule.fires(d, present) == rule.fires(d), (rule.name, message)
