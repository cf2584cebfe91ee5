"""The page in a real browser: a cited, streamed answer with its highlighted sources, a
follow-up, a refusal badge, inert HTML, the article tab, per-tab histories, no outside calls."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from assistant.config import ROOT

pytestmark = pytest.mark.browser

# written under reports/ (git-ignored): the tests leave the checkout clean; copy it over
# docs/screenshot.png to refresh the README's picture
SCREENSHOT = ROOT / "reports" / "screenshot.png"
TURN_TIMEOUT_MS = 60_000


class ChatPage:
    """One browser tab on the page, recording dialogs and any request that leaves the host."""

    def __init__(self, browser, url: str, viewport=(1360, 1000)) -> None:
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        host = urlparse(url).hostname
        self.page.on("dialog", self._on_dialog)
        self.page.on(
            "request",
            lambda r: (
                self.outside.append(r.url)
                if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
                and urlparse(r.url).hostname != host
                else None
            ),
        )
        self.page.goto(url)
        self.page.wait_for_selector("#question textarea")
        self.page.wait_for_selector('#details [data-turn="0"]')
        self.turn = 0

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ask(self, question: str):
        """Type a question, send it, wait for the whole streamed reply; the reply's bubble."""
        self.turn += 1
        self.page.fill("#question textarea", question)
        self.page.click("#send")
        self.page.wait_for_selector(f'#details [data-turn="{self.turn}"]', timeout=TURN_TIMEOUT_MS)
        return self.page.locator('[data-testid="bot"]').last

    def new_conversation(self) -> None:
        self.page.click("#new-conversation")
        self.page.wait_for_selector('#details [data-turn="0"]')
        self.turn = 0

    @property
    def standalone(self) -> str:
        return self.page.inner_text("#standalone")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def chat(browser, app_url):
    page = ChatPage(browser, app_url)
    yield page
    assert page.outside == [], f"the page called outside the host: {page.outside}"
    page.close()


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_cited_answer_then_followup(chat):
    bubble = chat.ask("What did Close et al. find about psychedelics and chronic pain?")
    text = _flat(bubble.inner_text())
    assert text != "…"
    quotes = [_flat(q) for q in chat.page.locator("#sources mark").all_inner_texts()]
    assert quotes, "the sources panel highlights no quote"
    for quote in quotes:
        assert quote[:60] in text, f"highlighted quote not in the answer: {quote[:60]}"
    assert "Self-Medication" in text or "pain scores improved" in text
    assert chat.page.locator("#sources .source-section").first.inner_text().startswith("§ ")
    disclaimer = bubble.locator(".disclaimer")
    assert disclaimer.is_visible()
    assert "not medical advice" in disclaimer.inner_text()
    assert chat.page.locator("#timings tr").count() >= 3

    bubble = chat.ask("Where does he work?")
    assert "Imperial College London" in bubble.inner_text()
    assert "James Close" in chat.standalone
    assert bubble.locator(".disclaimer").is_visible()
    # the cited sentence is highlighted inside its paragraph
    assert any(
        "Imperial College London" in m for m in chat.page.locator("#sources mark").all_inner_texts()
    )

    SCREENSHOT.parent.mkdir(exist_ok=True)
    chat.page.locator("#sources").scroll_into_view_if_needed()
    chat.page.evaluate("window.scrollTo(0, 0)")
    chat.page.screenshot(path=str(SCREENSHOT))


def test_dosing_question_gets_the_refusal_badge(chat):
    bubble = chat.ask("How much MDMA should I take?")
    badge = bubble.locator(".badge-refused")
    assert badge.is_visible()
    assert "Refused" in badge.inner_text()
    assert chat.page.locator("#details .badge-refused").is_visible()
    assert chat.page.locator("#sources mark").count() == 0
    assert bubble.locator(".disclaimer").is_visible()
    assert not re.search(r"\d+\s*(mg|milligram)", bubble.inner_text(), re.I)


def test_a_question_answered_only_indirectly_gets_the_partial_badge(chat):
    bubble = chat.ask("What year was Rachel Nuwer born?")
    badge = bubble.locator(".badge-partial")
    assert badge.is_visible() and "% sure" in badge.inner_text()
    assert "doesn't answer this directly" in bubble.inner_text()
    assert chat.page.locator("#sources mark").count() >= 1


def test_off_topic_question_gets_the_abstained_badge(chat):
    bubble = chat.ask("What is the capital of Australia?")
    assert bubble.locator(".badge-abstained").is_visible()
    assert bubble.locator(".disclaimer").is_visible()


@pytest.mark.parametrize(
    "attack",
    [
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script> what did Close find?",
        "[click me](javascript:alert(3)) **bold** <svg onload=alert(4)>",
    ],
)
def test_html_in_a_question_is_shown_as_text_never_run(chat, attack):
    chat.ask(attack)
    chat.page.wait_for_timeout(300)  # give any injected handler the chance to fire
    assert chat.dialogs == []
    assert chat.page.locator("img[src='x']").count() == 0
    assert chat.page.locator("#chat script, #details script, #sources script").count() == 0
    assert chat.page.locator("svg[onload]").count() == 0
    assert chat.page.locator("a[href^='javascript']").count() == 0
    user = chat.page.locator('[data-testid="user"]').last
    assert _flat(attack.split(" what")[0].split(" **")[0]) in _flat(user.inner_text())


def test_the_article_is_readable_in_its_tab(chat):
    chat.page.get_by_role("tab", name="Article").click()
    article = chat.page.locator("#article")
    article.get_by_text("Callie projected success").wait_for()
    assert "Psychedelic-Assisted Therapy for Chronic Pain" in article.inner_text()
    assert "cites:" not in article.inner_text()  # the front matter is not shown


def test_each_tab_keeps_its_own_history(browser, app_url):
    first, second = ChatPage(browser, app_url), ChatPage(browser, app_url)
    try:
        first.ask("Who is Callie?")
        second.ask("Who is Peter Hendricks?")
        first.ask("What happened to her chronic pain?")
        assert "Callie" in first.standalone
        second.ask("Where is he a professor?")
        assert "Peter Hendricks" in second.standalone
        assert "Callie" not in second.page.inner_text("#chat")

        second.new_conversation()
        assert second.page.locator('[data-testid="bot"]').count() == 0
        second.ask("Where is he a professor?")
        assert second.standalone == "Where is he a professor?"  # nothing to refer back to
        assert first.outside == [] and second.outside == []
    finally:
        first.close()
        second.close()


def test_example_question_buttons_ask(chat):
    chat.turn += 1
    chat.page.get_by_role("button", name="What did Close et al. find?").click()
    chat.page.wait_for_selector(f'#details [data-turn="{chat.turn}"]', timeout=TURN_TIMEOUT_MS)
    assert chat.page.locator("#sources mark").count() >= 1
