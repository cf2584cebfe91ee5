"""Editing a question in place, for the condense stage: a phrase replaced by a name or a topic
(the "a"/"an" before it made to agree), possessives, and the question's ending. What reads the
words is in ``condense.toml``'s ``[rewrite]``."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.patterns import load_toml, pattern

_REWRITE = load_toml(Path(__file__).with_name("condense.toml"))["rewrite"]
_ARTICLE_BEFORE = pattern(_REWRITE["article_before"])
_VOWEL_SOUND = pattern(_REWRITE["vowel_sound"])


def possessive(name: str) -> str:
    # A straight apostrophe, as people type it (the retrievers treat both alike).
    return f"{name}'" if name.endswith("s") and not name.endswith("ss") else f"{name}'s"


def fix_article(text: str, start: int) -> str:
    """Make "a"/"an" just before ``start`` agree with the word that now follows it."""
    before = _ARTICLE_BEFORE.search(text[:start])
    if not before:
        return text
    following = text[start:].lstrip()
    article = "an" if _VOWEL_SOUND.match(following) else "a"
    if before.group(1)[0].isupper():
        article = article.capitalize()
    return text[: before.start()] + article + " " + text[start:]


def substitute(text: str, match: re.Match[str], replacement: str) -> str:
    """``text`` with what ``match`` matched replaced, the article before it agreeing."""
    out = text[: match.start()] + replacement + text[match.end() :]
    return fix_article(out, match.start())


def replace_phrase(text: str, old: str, new: str) -> str | None:
    """``text`` with the phrase ``old`` (or its possessive) replaced by ``new``; None when
    ``text`` does not hold it."""
    found = re.compile(rf"(?<!\w){re.escape(old)}(?:['’]s)?(?!\w)", re.I).search(text)
    if not found:
        return None
    said = found.group(0)
    replacement = possessive(new) if said.endswith(("'s", "’s")) and not old.endswith("s") else new
    return substitute(text, found, replacement)


def finish(text: str) -> str:
    """Capitalised, ending in one question mark (or the user's own end punctuation)."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if not re.search(r"[?!.]$", text):
        text += "?"
    return text
