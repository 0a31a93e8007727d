/**
 * A tiny element builder. Every value from the service goes in as text (`textContent`), never as
 * HTML, so a stored email cannot inject markup; and no `style` attribute is ever set (the CSP
 * refuses inline styles: layout is in console.css, state in classes and `hidden`).
 */

/**
 * @example
 * h('button', { type: 'button', 'data-testid': 'delete', onclick: remove }, 'Delete contact')
 *
 * @param {string} tag
 * @param {Record<string, unknown>} [props] `on…` are listeners; `true` sets an empty attribute; null/false skip
 * @param {...(Node | string | number | null | undefined | false | (Node | string | null | undefined | false)[])} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), /** @type {EventListener} */ (value))
    } else if (name === 'value' && el instanceof HTMLInputElement) {
      el.value = String(value)
    } else {
      el.setAttribute(name === 'className' ? 'class' : name, value === true ? '' : String(value))
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    el.append(typeof child === 'number' ? String(child) : child)
  }
  return el
}

/**
 * Replaces the children of `el`.
 *
 * @param {Element} el
 * @param {...(Node | string | null | undefined | false)} children
 */
export function fill(el, ...children) {
  el.replaceChildren(
    ...children
      .filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => /** @type {Node | string} */ (c)),
  )
}

/**
 * A timestamp in the operator's own time zone; `short` for tables (`2026-11-30 12:01`).
 *
 * @param {string} iso
 * @param {{ short?: boolean }} [options]
 */
export function when(iso, options = {}) {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  if (!options.short) return d.toLocaleString()
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`
}
