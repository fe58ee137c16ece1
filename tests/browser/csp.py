"""Content-Security-Policy violations as the browser reports them, recorded per page.

Chromium fires ``securitypolicyviolation`` on the document for every blocked inline script,
inline style, ``eval`` or foreign origin; ``record_csp_violations`` forwards each one to Python,
so a page that only works with the policy relaxed fails its test."""

from __future__ import annotations

from collections.abc import Callable

LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation([e.effectiveDirective || e.violatedDirective, e.blockedURI,
                         e.sourceFile + ":" + e.lineNumber, (e.sample || "").slice(0, 80)].join(" | "));
});
"""


def record_csp_violations(context, sink: Callable[[str], None]) -> None:
    """Report every CSP violation of every page of ``context`` to ``sink`` ("csp: ...")."""
    context.expose_function("__cspViolation", lambda detail: sink(f"csp: {detail}"))
    context.add_init_script(LISTENER)
