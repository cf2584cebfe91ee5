"""Small talk: greetings, thanks, goodbyes and "what can you do?" get a short reply without
retrieval; the wording comes from the corpus profile (``assistant/profile.py``)."""

from __future__ import annotations

import re

from assistant.profile import CorpusProfile

_POLITE = (
    r"(?:\s+(?:there|again|everyone|all|assistant|bot|so much|a lot|very much|a bunch|for now))*"
    r"(?:[\s,!.]+how\s+are\s+you(?:\s+doing)?(?:\s+today)?)?"
)
_END = r"[\s!.,:;)(\-–—~*]*(?::\)|:-\)|🙂|😊|👋|🙏)?[\s!.?]*"
_GREETING = re.compile(
    rf"^\s*(?:hi+|hello+|hey+|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)|"
    rf"yo|hallo|bonjour|hola){_POLITE}{_END}$",
    re.I,
)
_THANKS = re.compile(
    rf"^\s*(?:(?:ok(?:ay)?|great|cool|nice|perfect|awesome|brilliant|got it|good|right)"
    rf"[\s,!.]*)?(?:thanks|thank\s+you|thx|ty|cheers|many\s+thanks|much\s+appreciated)"
    rf"{_POLITE}(?:[\s,!.]+(?:that(?:'s|\s+is|\s+was)\s+)?(?:very\s+|really\s+)?"
    rf"(?:helpful|useful|great|interesting|clear))?{_END}$",
    re.I,
)
_BYE = re.compile(rf"^\s*(?:bye|goodbye|good\s*bye|see\s+you|see\s+ya|ciao){_POLITE}{_END}$", re.I)
_HELP = re.compile(
    r"^\s*(?:(?:hi|hello|hey)[\s,!.]+)?(?:"
    r"what\s+(?:can|do|could)\s+you\s+(?:do|help\s+(?:me\s+)?with|answer|know|cover|tell\s+me)|"
    r"what\s+(?:can|should|could)\s+i\s+ask(?:\s+you)?(?:\s+about)?|"
    r"how\s+(?:does\s+this|do\s+(?:you|i\s+use\s+this))\s+work|"
    r"(?:who|what)\s+are\s+you|help(?:\s+me)?|"
    r"what\s+(?:is|'s)\s+this\s+(?:app|assistant|tool|chat|bot|page)(?:\s+for)?|"
    r"what\s+do\s+you\s+do"
    r")(?:\s+(?:here|for\s+me))?[\s?!.]*$",
    re.I,
)


def small_talk_kind(message: object) -> str | None:
    """``help``, ``greeting``, ``thanks`` or ``bye`` when the whole message is small talk;
    None for anything else (anything that might be a question about the documents)."""
    if not isinstance(message, str) or len(message) > 80:
        return None
    for kind, pattern in (("help", _HELP), ("greeting", _GREETING), ("thanks", _THANKS)):
        if pattern.match(message):
            return kind
    return "bye" if _BYE.match(message) else None


def small_talk(message: object, profile: CorpusProfile) -> str | None:
    """The reply to a small-talk message, or None when the message is not small talk."""
    kind = small_talk_kind(message)
    if kind == "help":
        return profile.about()
    if kind == "greeting":
        return profile.greeting()
    if kind == "thanks":
        return profile.thanks()
    return "Goodbye, and take care." if kind == "bye" else None
