/**
 * Security headers, computed by helmet once at start and copied onto each answer. JSON answers get
 * a compact API profile (nothing may load or frame them, no sniffing, HSTS); HTML pages get helmet's
 * full defaults, or a policy of their own.
 *
 * Why not @fastify/helmet: it rebuilds helmet's middleware, CSP string included, on every request
 * (measured: +27 µs of CPU per read, about 15 % of one), and every header an answer carries is
 * written and parsed on every request, so JSON carries only the four that matter for an API.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'

export type Headers = Readonly<Record<string, string>>

/**
 * The headers helmet sets with `options`, recorded once. Policies are static here (no per-request
 * nonces), which is what makes recording them valid.
 *
 * @example
 * helmetHeaders({ contentSecurityPolicy: false })['x-content-type-options'] // 'nosniff'
 */
export function helmetHeaders(options: HelmetOptions): Headers {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader() {},
  }
  helmet(options)({} as never, recorder as never, (err?: unknown) => {
    if (err) throw err
  })
  return Object.freeze(headers)
}

/**
 * For JSON: CSP `default-src 'none'; frame-ancestors 'none'` (nothing loads from or frames the
 * answer), nosniff (never rendered as HTML), HSTS, and same-origin resources (no cross-origin
 * embedding). The rest of helmet's set concerns documents: frame-ancestors does X-Frame-Options'
 * job in every current browser, and a JSON answer navigates nowhere for Referrer-Policy to matter.
 */
export const API_HEADERS = helmetHeaders({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { 'default-src': ["'none'"], 'frame-ancestors': ["'none'"] },
  },
  xFrameOptions: false,
  referrerPolicy: false,
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
})

/**
 * Helmet's defaults for HTML pages, with `options` on top. `upgrade-insecure-requests` is left out:
 * it would make browsers fetch a page's assets over https when the service is reached over plain
 * http (a private network, a local run), and break the page.
 *
 * @example
 * pageHeaders({ contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'connect-src': ["'self'"] } } })
 */
export function pageHeaders(options: HelmetOptions = {}): Headers {
  const csp = options.contentSecurityPolicy
  return helmetHeaders({
    ...options,
    contentSecurityPolicy:
      csp === false
        ? false
        : {
            ...(typeof csp === 'object' ? csp : {}),
            directives: {
              'upgrade-insecure-requests': null,
              ...(typeof csp === 'object' ? csp.directives : {}),
            },
          },
  } as HelmetOptions)
}

/** An `onRequest` hook that puts `headers` on the answer (replacing same-named ones set before). */
export function headersHook(headers: Headers) {
  return (_request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    reply.headers(headers)
    done()
  }
}
