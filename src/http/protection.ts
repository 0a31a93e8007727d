/**
 * What keeps the service up and its answers safe to show in a browser, registered in one call:
 * security headers (helmet's, see security-headers.ts), overload shedding (under-pressure,
 * OVERLOAD_*), rate limits (RATE_LIMIT_PER_MINUTE) and the API_KEYS guard on `/identify`. Every
 * refusal is an AppError, so it reaches the one error handler and has the contract's shape.
 * Register it before the routes: the rate limit, the guard and page headers attach to routes as
 * they are added.
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { HelmetOptions } from 'helmet'
import type { Config, TrustProxy } from '../config.ts'
import { AppError } from '../errors.ts'
import { bearerToken, clientGuard, compareKeys, digest, type Guard } from './operator-auth.ts'
import { API_HEADERS, headersHook, pageHeaders } from './security-headers.ts'

/** Probes and the scrape: never limited or shed, so an overloaded instance still says how it is. */
const UNPROTECTED_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])

/** What a shed request is told; the bounds are sampled every OVERLOAD_SAMPLE_INTERVAL_MS. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 5

const IDENTIFY_ROUTE = '/identify'

export interface ProtectionOptions {
  readonly config: Config
  /**
   * Route prefixes that serve HTML pages, each with its helmet options (`{}`: helmet's defaults).
   * Everything else gets the API profile.
   */
  readonly pages?: Readonly<Record<string, HelmetOptions>>
}

function unprotected(request: FastifyRequest): boolean {
  return UNPROTECTED_ROUTES.has(request.routeOptions.url as string)
}

/** Adds `hook` to a route's own onRequest hooks, after those already there. */
function appendOnRequest(route: RouteOptions, hook: Guard): void {
  route.onRequest = [...(route.onRequest === undefined ? [] : [route.onRequest].flat()), hook]
}

async function protection(app: FastifyInstance, { config, pages = {} }: ProtectionOptions): Promise<void> {
  app.addHook('onRequest', headersHook(API_HEADERS))
  const pageHooks = Object.entries(pages).map(
    ([prefix, options]) => [prefix, headersHook(pageHeaders(options))] as const,
  )
  app.addHook('onRoute', (route) => {
    const page = pageHooks.find(([prefix]) => route.url === prefix || route.url.startsWith(`${prefix}/`))
    if (page !== undefined) appendOnRequest(route, page[1])
  })

  const { overload } = config
  if (
    overload.maxEventLoopDelayMs > 0 ||
    overload.maxEventLoopUtilization > 0 ||
    overload.maxHeapUsedBytes > 0 ||
    overload.maxRssBytes > 0
  ) {
    await app.register(underPressure, {
      maxEventLoopDelay: overload.maxEventLoopDelayMs,
      maxEventLoopUtilization: overload.maxEventLoopUtilization,
      // Utilisation over the last sample, not since the process started.
      eventLoopUtilizationMode: 'interval',
      maxHeapUsedBytes: overload.maxHeapUsedBytes,
      maxRssBytes: overload.maxRssBytes,
      sampleInterval: overload.sampleIntervalMs,
      pressureHandler: (request, reply) => {
        if (unprotected(request)) return
        reply.header('retry-after', OVERLOAD_RETRY_AFTER_SECONDS)
        return Promise.reject(
          new AppError(
            'ERR_OVERLOADED',
            `the service is overloaded and sheds requests until it recovers; retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s`,
          ),
        )
      },
    })
  }

  if (config.rateLimitPerMinute > 0) {
    // A configured key is its own bucket; anything else counts by address, so made-up keys cannot
    // buy a fresh allowance. The bucket is named by the key's position, never by the key.
    const keys = [...new Set([...config.apiKeys, ...config.adminApiKeys])].map(digest)
    await app.register(rateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      allowList: unprotected,
      keyGenerator: (request) => {
        const token = keys.length > 0 ? bearerToken(request) : null
        const index = token === null ? -1 : compareKeys(digest(token), keys).index
        return index === -1 ? `address:${normalizeIP(request.ip)}` : `key:${index}`
      },
      errorResponseBuilder: (_request, context) =>
        new AppError(
          'ERR_RATE_LIMITED',
          `more than ${context.max} requests a minute from this API key or address; retry in ${context.after}`,
        ),
    })
  }

  const guard = clientGuard(config)
  if (guard !== null) {
    // After the rate limit's hook (registered above), so guessing keys is rate limited too.
    app.addHook('onRoute', (route) => {
      if (route.url === IDENTIFY_ROUTE) appendOnRequest(route, guard)
    })
  }
}

/**
 * TRUST_PROXY as Fastify's `trustProxy` option. A hop count becomes the function proxy-addr would
 * build from it, because Fastify's types (not its runtime) leave numbers out.
 *
 * @example
 * Fastify({ trustProxy: trustProxyOption(config.trustProxy) })
 */
export function trustProxyOption(value: TrustProxy): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value
}

/**
 * @example
 * await app.register(protectionPlugin, { config })
 */
export const protectionPlugin = fp(protection, { name: 'protection', fastify: '5.x' })
