"""The assistant as a Model Context Protocol server (``assistant mcp``, stdio), for agents such as
Claude Desktop or Cursor: built on the official ``mcp`` SDK's ``MCPServer``.

    tool ask(question, conversation?)       a reply: its text (quotes, [n] markers, disclaimer),
                                            status, confidence, refusal reason and sources
    tool cited_passage(document, start, end) a cited quote with its paragraph and section
    resource doc://{document}                each document's text (the offsets refer to it), its
                                            doses blacked out character for character

Every question goes through the same chain as the page and the API (``Assistant``): the rails,
the decision and the disclaimer apply exactly as there. A conversation id keeps the history of
its turns (for "where does he work?"); without one each question stands alone. Bad arguments
get the SDK's validation message, a failure one line, never a traceback; the server writes
only the protocol to stdout.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from pydantic import BaseModel, Field

from assistant.registry import STATUSES
from assistant.routes.registry import ROUTES

log = logging.getLogger("assistant.mcp")

INSTRUCTIONS = (
    "Answers questions about {works} with verbatim, cited quotes. Call `ask` with the user's "
    "question (and a conversation id for follow-ups); show its `text`, which ends with a "
    "disclaimer, and keep its [n] markers with the `sources`. A status of `partial` means the "
    "quotes are the closest the documents come; `abstained` that they do not cover it; "
    "`refused` that a safety rail declined (dosing, crisis, emergency, medical advice, supply, "
    "harm): relay that text as it is."
)


class SourceOut(BaseModel):
    id: int = Field(description="the [n] marker in the text")
    quote: str
    document: str
    section: str
    start: int = Field(description="character offset of the quote in the document")
    end: int
    uri: str = Field(description="the document resource")


class AskResult(BaseModel):
    text: str = Field(description="the reply as shown: answer, [n] markers, disclaimer")
    status: str = Field(description=", ".join(STATUSES))
    confidence: float | None = Field(description="P(the quotes answer the question)")
    refusal_reason: str | None
    route: str = Field(description="the kind of turn: " + ", ".join(ROUTES))
    standalone_question: str
    sources: list[SourceOut]


class PassageOut(BaseModel):
    quote: str
    paragraph: str
    section: str
    document: str
    start: int
    end: int


def build_server(assistant):
    """The MCP server around a running assistant."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.mcpserver.resources import TextResource

    from assistant.rails.doses import mask_doses

    profile = assistant.profile
    library = assistant.resources.library
    server = MCPServer(
        name=profile.title,
        instructions=INSTRUCTIONS.format(works=profile.works),
        log_level="WARNING",
    )

    @server.tool(description=f"Ask {profile.source} a question; answers are cited quotes.")
    def ask(question: str, conversation: str | None = None) -> AskResult:
        try:
            if conversation:
                reply = assistant.ask(question, conversation)
            else:
                reply = assistant.reply(question)
        except Exception as error:  # one bad turn is an error result, not a crash
            log.exception("ask failed")
            raise ToolError(
                f"Something went wrong while answering: {type(error).__name__}."
            ) from None
        data = reply.to_dict()
        return AskResult(
            text=data["answer"],
            status=data["status"],
            confidence=data["confidence"],
            refusal_reason=data["refusal_reason"],
            route=data["route"],
            standalone_question=data["standalone_question"],
            sources=[SourceOut(**s, uri=f"doc://{s['document']}") for s in data["sources"]],
        )

    @server.tool(description="A cited quote by its document and offsets, with its paragraph.")
    def cited_passage(document: str, start: int, end: int) -> PassageOut:
        doc = library.documents.get(document)
        if doc is None:
            raise ToolError(f"No document '{document}'; there are: {', '.join(library.documents)}.")
        if not 0 <= start < end <= len(doc.text):
            raise ToolError(f"Offsets must satisfy 0 <= start < end <= {len(doc.text)}.")
        passage = next((p for p in doc.passages if p.start <= start and end <= p.end), None)
        masked = mask_doses(doc.text)  # the whole text first: a slice may cut a dose in two
        return PassageOut(  # no dose, as on every surface: blacked out, offsets kept
            quote=masked[start:end],
            paragraph=masked[passage.start : passage.end] if passage else masked[start:end],
            section=passage.section if passage else "",
            document=document,
            start=start,
            end=end,
        )

    for doc in sorted(library.documents.values(), key=lambda d: d.id):
        server.add_resource(
            TextResource(
                uri=f"doc://{doc.id}",
                name=doc.id,
                title=doc.title,
                description=f"{doc.title}" + (f" by {doc.author}" if doc.author else ""),
                mime_type="text/markdown",
                text=mask_doses(doc.text),
            )
        )
    return server


def serve(settings=None) -> int:
    """Load the assistant, then serve MCP on stdin/stdout until the client closes."""
    from assistant.chain import Assistant

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the protocol's
        assistant = Assistant(settings) if settings else Assistant()
        assistant.warm_up()  # every model loaded before the first call
    build_server(assistant).run("stdio")
    return 0
