"""axe-core (Deque's accessibility engine, from npm; scripts/bootstrap puts it in .venv) run
inside a playwright page, and the WCAG 2.5.8 touch-target check, for the browser tests.

Both return readable lines for an assertion message (empty when the page passes)."""

from __future__ import annotations

from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parents[2] / ".venv" / "share" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
MIN_TARGET_PX = 44

_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(' ')), summary: v.nodes.map(n => n.failureSummary)}));
}"""


def serious_violations(page) -> list[str]:
    """axe's serious and critical violations on the page as it is now: one line per rule with
    the selectors of the elements that fail it."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: scripts/bootstrap fetches axe-core")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated, not added as a <script>: the hub's CSP (script-src 'self') stays on
        page.evaluate(AXE_JS.read_text() + "\n;undefined")
    found = page.evaluate(_RUN)
    return [f"{v['impact']} {v['id']}: {v['help']} -> {', '.join(v['targets'][:8])}"
            + (f" (+{len(v['targets']) - 8} more)" if len(v["targets"]) > 8 else "")
            + f"\n      {v['summary'][0].splitlines()[-1].strip() if v['summary'][0] else ''}"
            for v in found if v["impact"] in SERIOUS]


# Inline links inside running text are exempt (WCAG 2.5.8's "inline" exception: a link in a
# sentence is as tall as its line): an <a> laid out inline whose parent element holds text
# of its own beside it. Hidden inputs and elements with no box (display:none) are no targets.
# A checkbox or radio button counts with its label, which toggles it too. Closed <details>
# are opened for the measure, so that what they hold is measured as well.
_TARGETS = """(min) => {
  const SEL = 'a[href], button, summary, input:not([type=hidden]), select, textarea, '
            + '[role=button]';
  const ownText = (p) => [...p.childNodes].filter(n => n.nodeType === 3)
                                          .map(n => n.textContent.trim()).join('');
  const inline = (el) => el.tagName === 'A' && getComputedStyle(el).display === 'inline'
                         && ownText(el.parentElement).length > 0;
  const classes = (el) => typeof el.className === 'string' && el.className.trim()
                          ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
  const tag = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes(el);
  const name = (el) => {
    const n = el.getAttribute('name') ? `[name=${el.getAttribute('name')}]` : '';
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '')
                 .trim().slice(0, 30);
    const host = el.parentElement.closest('[id], section, form, nav, table');
    return `${tag(el)}${n} "${text}"` + (host ? ` in ${tag(host)}` : '');
  };
  const closed = [...document.querySelectorAll('details:not([open])')];
  closed.forEach(d => d.open = true);
  const out = [];
  for (const el of document.querySelectorAll(SEL)) {
    const r = el.getBoundingClientRect();
    if ((r.width === 0 && r.height === 0) || getComputedStyle(el).visibility === 'hidden'
        || inline(el)) continue;
    let w = r.width, h = r.height;
    if ((el.type === 'checkbox' || el.type === 'radio') && el.labels && el.labels.length) {
      const l = el.labels[0].getBoundingClientRect();
      w = Math.max(w, l.width); h = Math.max(h, l.height);
    }
    if (w < min - 0.5 || h < min - 0.5) out.push(`${Math.round(w)}x${Math.round(h)} ${name(el)}`);
  }
  closed.forEach(d => d.open = false);
  return out;
}"""


def small_targets(page, minimum: int = MIN_TARGET_PX) -> list[str]:
    """Visible interactive elements smaller than ``minimum`` px either way, as
    ``WxH tag#id[name].class "text" in <host>`` lines."""
    return page.evaluate(_TARGETS, minimum)
