/**
 * The operator API from the browser: the key lives in sessionStorage (gone with the tab, never in a
 * URL or a cookie) and goes out only as the Bearer header of same-origin requests. Every failure
 * becomes an `ApiError` carrying the service's stable `code`, which the views match on.
 */

const KEY_NAME = 'identity-console.operator-key'

export const session = {
  /** @returns {string | null} */
  get key() {
    return sessionStorage.getItem(KEY_NAME)
  },
  /** @param {string} key */
  signIn(key) {
    sessionStorage.setItem(KEY_NAME, key)
  },
  signOut() {
    sessionStorage.removeItem(KEY_NAME)
  },
}

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the service did not answer at all
   * @param {string} code a code from docs/errors.md, or ERR_NETWORK
   * @param {string} message the service's message, meant for a person
   */
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/**
 * One call to the operator API; resolves with the parsed JSON body of a 2xx answer.
 *
 * @example
 * const identity = await api('GET', `/identities?email=${encodeURIComponent(email)}`)
 *
 * @param {'GET' | 'POST' | 'DELETE'} method
 * @param {string} path
 * @param {{ body?: unknown, key?: string }} [options] `key` overrides the stored one (sign-in check)
 * @returns {Promise<any>}
 */
export async function api(method, path, options = {}) {
  const key = options.key ?? session.key ?? ''
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json', authorization: `Bearer ${key}` }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
      credentials: 'omit',
    })
  } catch {
    throw new ApiError(0, 'ERR_NETWORK', 'the service did not answer: is it running?')
  }
  const text = await res.text()
  /** @type {any} */
  let body = null
  try {
    body = text === '' ? null : JSON.parse(text)
  } catch {
    // A proxy's HTML error page, say: the status still tells what happened.
  }
  if (!res.ok) {
    throw new ApiError(
      res.status,
      body?.code ?? `HTTP_${res.status}`,
      body?.message ?? `the service answered ${res.status}`,
    )
  }
  return body
}

/**
 * Runs `fn` over `items`, at most `limit` at a time, keeping their order.
 *
 * @template T, R
 * @param {T[]} items
 * @param {number} limit
 * @param {(item: T) => Promise<R>} fn
 * @returns {Promise<R[]>}
 */
export async function mapLimit(items, limit, fn) {
  /** @type {R[]} */
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(/** @type {T} */ (items[i]))
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
