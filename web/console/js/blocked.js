/**
 * The block list as the console sees it: which stored values are blocked, exact or by pattern.
 * Patterns are RE2 syntax and run on RE2JS — the linear-time engine the service uses — never on a
 * JavaScript RegExp, which an operator's pattern could send into catastrophic backtracking.
 */
import { RE2JS } from '../vendor/re2js.mjs'

/**
 * @typedef {{ id: number, kind: 'email' | 'phoneNumber', value?: string, pattern?: string,
 *   createdAt: string, builtin?: boolean }} BlockedValue
 */

/**
 * A predicate over the entries of `GET /blocked-values`: `(kind, value) => blocked?`. A pattern the
 * browser cannot compile (it should not happen: the service refused it) blocks nothing here.
 *
 * @param {BlockedValue[]} entries
 * @returns {(kind: 'email' | 'phoneNumber', value: string) => boolean}
 */
export function blockedPredicate(entries) {
  /** @type {Record<string, Set<string>>} */
  const exact = { email: new Set(), phoneNumber: new Set() }
  /** @type {{ kind: string, re: { matcher(s: string): { find(): boolean } } }[]} */
  const patterns = []
  for (const e of entries) {
    if (e.value !== undefined) exact[e.kind]?.add(e.value)
    else if (e.pattern !== undefined) {
      try {
        patterns.push({ kind: e.kind, re: RE2JS.compile(e.pattern) })
      } catch {
        // Shown in the block list all the same.
      }
    }
  }
  return (kind, value) =>
    exact[kind]?.has(value) === true || patterns.some((p) => p.kind === kind && p.re.matcher(value).find())
}
