"""The chat (Chainlit), mounted at /chat by `assistant.surfaces.server.mount_chat`.

A question goes through the one entry point for answers, like `POST /api/ask` and `mcdewey ask`
(`Answerer.astream_ask`, with the process's one model). The model's tokens are streamed as they
come; they are provisional, and when the pipeline's `Final` arrives the message is replaced by the
checked answer, whose `[n]` markers were tied to chunks in code. Under it, the sources in cited
order (document, version, page, section trail) link to the passage in its document (`/docs/...`,
highlighted) and to the original file at that page; `[n]` opens the cited chunk's text in the side
panel (a `cl.Text` element named `[n]`, which Chainlit links wherever that name appears in the
message).

Document text is untrusted: everything taken from the library or the model is Markdown-escaped
before Chainlit renders it (and the config forbids raw HTML), so a manual cannot inject links,
images or markup into the chat.

The service and settings come from `chainlit.server.app.state` (put there by `mount_chat`); run
alone (`chainlit run assistant/surfaces/chat.py`) the chat builds its own from the MCDEWEY_* environment.
When `MCDEWEY_API_TOKEN` is set, the chat asks for a login: any user name, the token as password.

Importing this module loads no model and touches no index (Chainlit itself is the heavy import).
Chainlit executes this file under its path, not as `assistant.surfaces.chat` (it is not in sys.modules while
it runs), so nothing here may need its own module at class-creation time (no dataclasses).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.surfaces import chat_root

PROJECT_ROOT = chat_root.PROJECT_ROOT
# Chainlit reads its config (.chainlit/config.toml), chainlit.md and public/ from its app root, which
# defaults to the working directory, and writes its translations there: point it at a private root
# over the project's files before Chainlit is first imported.
chat_root.prepare()
# Chainlit sends nothing anywhere unless a data layer is configured (LITERAL_API_KEY, DATABASE_URL);
# should one be, the tracing SDK it pulls in must not phone home either.
os.environ.setdefault("TRACELOOP_TELEMETRY", "false")

import chainlit as cl  # noqa: E402
from chainlit.config import config as chainlit_config  # noqa: E402
from chainlit.input_widget import Select, Slider  # noqa: E402

from assistant.answerer import MAX_ASK_TOP_K, MAX_HISTORY_MESSAGES, Answerer  # noqa: E402
from assistant.answering.results import AnswerResult, Delta, Final  # noqa: E402
from assistant.errors import BadRequest, Busy, McDeweyError  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.surfaces.chat_render import listed_chunks, md_escape, render_answer  # noqa: E402
from assistant.surfaces.files import library_file, markdown_pages  # noqa: E402
from assistant.surfaces.links import is_markdown  # noqa: E402
from assistant.surfaces.passage import body_text, chunk_pages, line_breaks, reflow  # noqa: E402

if TYPE_CHECKING:
    from assistant.service import LibraryListing, LibraryService
    from indexing.chunk import Chunk

log = logging.getLogger("mcdewey.chat")
chat_root.keep_page_offline()  # no stylesheet or font from another host in the chat's page

WELCOME_FILE = PROJECT_ROOT / "chainlit.md"
ALL = "*"  # the "no filter" choice; never a valid product or version name
MAX_LISTED_PRODUCTS = 40


# --- where the service comes from -----------------------------------------------------------------

_fallback: dict[str, Any] = {}
_fallback_lock = threading.RLock()


def _state() -> Any:
    from chainlit.server import app

    return app.state


def _shared(name: str, build: Callable[[], Any]) -> Any:
    """The app's `mcdewey_<name>` (handed over by mount_chat), else one built once for this process
    (standalone `chainlit run`), from the MCDEWEY_* environment."""
    value = getattr(_state(), f"mcdewey_{name}", None)
    if value is not None:
        return value
    with _fallback_lock:  # re-entrant: the answerer is built on the service, built on the settings
        if name not in _fallback:
            _fallback[name] = build()
        return _fallback[name]


def current_settings() -> Settings:
    return _shared("settings", Settings)  # type: ignore[no-any-return]


def current_service() -> LibraryService:
    from assistant.service import LibraryService

    return _shared("service", lambda: LibraryService(current_settings()))  # type: ignore[no-any-return]


def current_answerer() -> Answerer:
    """The app's Answerer (one model for the whole server), else one over `current_service()`."""
    return _shared("answerer", lambda: Answerer(current_service()))  # type: ignore[no-any-return]


def link_base(settings: Settings) -> str:
    """Links in the chat are root-relative (same origin), or absolute under MCDEWEY_PUBLIC_URL."""
    return settings.public_url.rstrip("/") if settings.public_url else ""



# --- settings panel and welcome -------------------------------------------------------------------


def library_choices(listing: LibraryListing) -> dict[str, list[str]]:
    """product -> its versions, from the library listing."""
    out: dict[str, list[str]] = {}
    for vendor in listing.vendors:
        for product in vendor.products:
            out.setdefault(product.product, []).extend(v.version for v in product.versions)
    return {p: sorted(set(vs)) for p, vs in sorted(out.items())}


def settings_widgets(
    choices: dict[str, list[str]], product: str = ALL, version: str = ALL, top_k: int = 8
) -> list[Any]:
    """Product, version (those of the chosen product, or every version) and number of chunks."""
    versions = choices.get(product) if product != ALL else sorted({v for vs in choices.values() for v in vs})
    products = {"All products": ALL, **{p: p for p in choices}}
    version_items = {"All versions": ALL, **{v: v for v in versions or []}}
    return [
        Select(id="product", label="Product", items=products,
               initial_value=product if product in products.values() else ALL),
        Select(id="version", label="Version", items=version_items,
               initial_value=version if version in version_items.values() else ALL),
        Slider(id="top_k", label="Passages to search", initial=top_k, min=1, max=MAX_ASK_TOP_K, step=1,
               description="How many passages are retrieved for each question"),
    ]


def filters_from(values: dict[str, Any], choices: dict[str, list[str]], default_top_k: int) -> tuple[
        str | None, str | None, int]:
    """(product, version, top_k) from the panel's values; a version the product lacks is dropped."""
    product = values.get("product") or ALL
    version = values.get("version") or ALL
    product = product if product in choices else ALL
    known = choices.get(product, []) if product != ALL else [v for vs in choices.values() for v in vs]
    version = version if version in known else ALL
    try:
        top_k = int(float(values.get("top_k") or default_top_k))
    except (TypeError, ValueError):
        top_k = default_top_k
    top_k = max(1, min(MAX_ASK_TOP_K, top_k))
    return (None if product == ALL else product), (None if version == ALL else version), top_k


def library_summary(listing: LibraryListing) -> str:
    """'**This library holds** ... ' — vendors, products and versions, escaped."""
    items = []
    for vendor in listing.vendors:
        for product in vendor.products:
            versions = ", ".join(md_escape(v.version) for v in product.versions)
            items.append(f"{md_escape(vendor.vendor)} {md_escape(product.product)} ({versions})")
    if not items:
        return "**The library is empty**: index some manuals with `mcdewey ingest` first."
    shown = items[:MAX_LISTED_PRODUCTS]
    more = f" and {len(items) - len(shown)} more" if len(items) > len(shown) else ""
    return (f"**This library holds** {listing.documents} documents ({listing.chunks} passages): "
            + "; ".join(shown) + more + ".")


def welcome_text(listing: LibraryListing | None) -> str:
    """chainlit.md (the project's welcome text), followed by what this library holds right now."""
    try:
        text = WELCOME_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        text = "# McDewey\n\nAsk a question about the manuals in this library; answers cite their pages."
    return text if listing is None else f"{text}\n\n{library_summary(listing)}"


# --- login (only when MCDEWEY_API_TOKEN is set) ---------------------------------------------------


def auth_secret(token: str) -> str:
    """The key Chainlit signs its session cookies with, derived from the API token: it survives a
    restart, and changing the token logs everyone out."""
    return hmac.new(token.encode("utf-8"), b"mcdewey chainlit auth secret v1", hashlib.sha256).hexdigest()


def check_login(token: str | None, username: str, password: str) -> cl.User | None:
    """Any user name with the API token as password (compared in constant time)."""
    if not token or not hmac.compare_digest(password.encode("utf-8"), token.encode("utf-8")):
        return None
    name = " ".join(username.split())[:64] or "reader"
    return cl.User(identifier=name, metadata={"provider": "mcdewey-token"})


def _login_required() -> bool:
    """Only when Chainlit serves this file (mount or `chainlit run`), not when a test imports it."""
    return bool(chainlit_config.run.module_name) and bool(current_settings().api_token)


if _login_required():
    os.environ.setdefault("CHAINLIT_AUTH_SECRET", auth_secret(current_settings().api_token or ""))

    @cl.password_auth_callback
    async def login(username: str, password: str) -> cl.User | None:
        return check_login(current_settings().api_token, username, password)


# --- the conversation -----------------------------------------------------------------------------


def _choices() -> dict[str, list[str]]:
    choices = cl.user_session.get("choices")
    if choices is None:
        choices = library_choices(current_service().list_library())
        cl.user_session.set("choices", choices)
    return choices


@cl.on_chat_start
async def start() -> None:
    top_k = current_answerer().default_top_k
    cl.user_session.set("history", [])
    listing = None
    try:
        listing = await cl.make_async(current_service().list_library)()
        cl.user_session.set("choices", library_choices(listing))
    except Exception as exc:  # the chat still opens; the question will report what is wrong
        log.warning("library listing failed: %s", exc)
        cl.user_session.set("choices", {})
    choices = cl.user_session.get("choices") or {}
    cl.user_session.set("filters", (None, None, top_k))
    await cl.ChatSettings(settings_widgets(choices, top_k=top_k)).send()
    await cl.Message(content=welcome_text(listing)).send()


@cl.on_settings_update
async def settings_changed(values: dict[str, Any]) -> None:
    choices = _choices()
    product, version, top_k = filters_from(values, choices, current_answerer().default_top_k)
    previous = cl.user_session.get("filters") or (None, None, top_k)
    cl.user_session.set("filters", (product, version, top_k))
    if product != previous[0] or (values.get("version") or ALL) != (version or ALL):
        # the version list depends on the product: show the chosen product's versions
        await cl.ChatSettings(settings_widgets(choices, product or ALL, version or ALL, top_k)).send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    settings = current_settings()
    answerer = current_answerer()
    question = (message.content or "").strip()
    if not question:
        return
    history: list[dict[str, str]] = cl.user_session.get("history") or []
    product, version, top_k = cl.user_session.get("filters") or (None, None, answerer.default_top_k)
    reply = cl.Message(content="")
    streamed = False
    result: AnswerResult | None = None
    try:
        async for event in answerer.astream_ask(
            question, history=history, product=product, version=version, top_k=top_k,
        ):
            if isinstance(event, Delta):
                await reply.stream_token(md_escape(event.text))  # provisional; replaced below
                streamed = True
            elif isinstance(event, Final):
                result = event.result
    except Exception as exc:
        if not isinstance(exc, McDeweyError):
            log.exception("answering %r failed", question[:200], exc_info=exc)
        await _failed(reply, streamed, failure_text(exc))
        return
    if result is None:  # the pipeline always ends with Final; a cancelled task never gets here
        return
    texts = await asyncio.to_thread(laid_out, listed_chunks(result), current_service().library_root)
    rendered = render_answer(result, link_base(settings), texts)
    reply.content = rendered.content
    reply.elements = [cl.Text(name=v.name, content=v.content, display="side") for v in rendered.sources]
    await reply.send()
    history.extend(({"role": "user", "content": question}, {"role": "assistant", "content": result.answer}))
    cl.user_session.set("history", history[-MAX_HISTORY_MESSAGES:])


def laid_out(chunks: list[Chunk], library: Path) -> dict[str, str]:
    """Markdown chunks' texts as the chunk page lays them out (`passage`): the index keeps the source's
    wrapped lines and drops its blank lines, and Chainlit shows every line break, which left a
    paragraph ragged in the side panel. Other formats, and a file gone since the ingest, keep their text."""
    out: dict[str, str] = {}
    for chunk in chunks:
        if not is_markdown(chunk.source) or chunk.chunk_id in out:
            continue
        try:
            pages = markdown_pages(library_file(library, chunk.source))
        except McDeweyError:
            continue
        if pages:
            out[chunk.chunk_id] = reflow(body_text(chunk), *line_breaks(chunk_pages(pages, chunk.page, chunk.page_end)))
    return out


def failure_text(exc: Exception) -> str:
    """What the chat says when a question gets no answer: busy, bad input, library down, or a bug."""
    if isinstance(exc, Busy):  # every answer slot and queue place taken (MCDEWEY_MAX_ANSWERS/_ANSWER_QUEUE)
        return "McDewey is busy answering other questions; try again in a few seconds."
    if isinstance(exc, BadRequest):  # e.g. an overlong question: say what to change
        return f"That question cannot be asked: {exc}."
    if isinstance(exc, McDeweyError):
        return f"The library could not be searched: {exc}"
    return "Something went wrong while answering (the server log has the details)."


async def _failed(reply: cl.Message, streamed: bool, reason: str) -> None:
    """Keep what was streamed, and say plainly what went wrong."""
    reply.content = (f"{reply.content}\n\n" if streamed and reply.content else "") + f"⚠️ {md_escape(reason)}"
    await reply.send()
