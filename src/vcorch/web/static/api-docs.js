// Starts Swagger UI on /api/docs (a file of ours: the page's policy allows no inline script).
// SwaggerUIBundle comes from /api/docs/assets/swagger-ui-bundle.js, served by vcorch from the
// swagger-ui-bundle-v2 wheel; nothing is loaded from elsewhere.
/* global SwaggerUIBundle */
"use strict";

function start() {
  const target = document.getElementById("swagger-ui");
  if (typeof SwaggerUIBundle !== "function") {
    target.textContent = "Không tải được Swagger UI; xem /api/openapi.json.";
    return;
  }
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    // A deep link is an <a> inside the operation's <button>: nested controls (axe).
    deepLinking: false,
    // No badge from validator.swagger.io: the page reaches nothing but vcorch.
    validatorUrl: null,
    docExpansion: "none",
    defaultModelsExpandDepth: 0,
    defaultModelExpandDepth: 2,
    displayOperationId: false,
    displayRequestDuration: true,
    filter: true,
    // Plain examples (white on dark grey): the highlighter's colours miss WCAG AA contrast.
    syntaxHighlight: { activated: false },
    showExtensions: true,
    tryItOutEnabled: false,
    // The token stays in this page's memory only (not in localStorage).
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
  });
}

// Swagger UI's markup, mended for keyboards and screen readers once it is drawn (and
// redrawn): a scrolling block can take the focus, and a selector without a label gets one.
function mend(root) {
  for (const select of root.querySelectorAll("select:not([aria-label])")) {
    const labelled = select.id && root.querySelector(`label[for="${select.id}"]`);
    if (!labelled && !select.closest("label")) {
      select.setAttribute("aria-label", select.classList.contains("examples-select-element")
        ? "Chọn ví dụ" : "Chọn giá trị");
    }
  }
  for (const block of root.querySelectorAll("pre, .model-box, table, .highlight-code")) {
    const scrolls = block.scrollWidth > block.clientWidth || block.scrollHeight > block.clientHeight;
    if (scrolls && !block.hasAttribute("tabindex")) {
      block.setAttribute("tabindex", "0");
    }
  }
}

let pending = false;
const observer = new MutationObserver(() => {
  if (pending) return;
  pending = true;
  window.requestAnimationFrame(() => {
    pending = false;
    mend(document);
  });
});
observer.observe(document.documentElement, { childList: true, subtree: true });

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
