// McDewey: the passage panel opens when a citation ([n]) is clicked, and only then; and the chat's icon
// buttons get names a screen reader can say (below).
//
// Since Chainlit 2.11 the side panel opens by itself whenever a message brings side elements, showing
// every cited passage of the conversation under the name of the last one (Chainlit issue #2979). This
// closes any panel that the reader did not open: one whose title is not the citation last clicked, or
// that holds more than one passage. tests/test_chat_browser.py checks both behaviours in chromium.
(() => {
  let clicked = null;
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target instanceof Element ? event.target.closest("a.element-link") : null;
      if (link) clicked = link.textContent.trim();
    },
    true,
  );
  const closeUnasked = () => {
    const title = document.getElementById("side-view-title");
    const content = document.getElementById("side-view-content");
    if (!title || !content) return;
    const name = title.textContent.trim();
    if (name === clicked && content.children.length <= 1) return;
    clicked = null;
    const back = title.querySelector("button");
    if (back) back.click();
    else document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
  };
  new MutationObserver(closeUnasked).observe(document.documentElement, { childList: true, subtree: true });
})();

// Chainlit's icon-only buttons (new chat, settings, send) have no accessible name: a screen reader says
// "button" and nothing else. Each gets its name when it appears (the page is re-rendered as it changes).
// tests/test_chat_look.py checks them in chromium.
(() => {
  const names = {
    "new-chat-button": "New chat",
    "chat-settings-open-modal": "Chat settings",
    "chat-submit": "Send question",
    "stop-button": "Stop the answer",
  };
  const name = () => {
    for (const [id, label] of Object.entries(names)) {
      const button = document.getElementById(id);
      if (button && !button.getAttribute("aria-label")) button.setAttribute("aria-label", label);
    }
    // Any other icon-only button (a message's copy or feedback action, …) is named after its icon
    // (Chainlit draws lucide icons: class "lucide lucide-copy" → "Copy").
    for (const button of document.querySelectorAll("button:not([aria-label])")) {
      if (button.innerText.trim() || button.title || button.getAttribute("aria-labelledby")) continue;
      const icon = [...(button.querySelector("svg")?.classList || [])].find((c) => c.startsWith("lucide-"));
      const label = icon ? icon.slice("lucide-".length).replace(/-/g, " ")
        : (button.id || button.getAttribute("data-testid") || "").replace(/[-_]+/g, " ").trim();
      if (label) button.setAttribute("aria-label", label[0].toUpperCase() + label.slice(1));
    }
  };
  new MutationObserver(name).observe(document.documentElement, { childList: true, subtree: true });
  name();
})();
