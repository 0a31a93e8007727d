/**
 * `buildApp`: the Fastify instance with its plugins, error handling and routes. It never listens
 * (`server.ts` does), so tests drive it with `app.inject()`.
 */
import { randomUUID } from 'node:crypto'
import cors from '@fastify/cors'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import pino from 'pino'
import type { Config } from './config.ts'
import { answerClientError, guardConnections } from './http/client-errors.ts'
import { consoleRoutes } from './http/console.ts'
import { errorHandler, notFoundHandler, schemaErrorFormatter } from './http/errors.ts'
import { refuseAmbiguousFraming } from './http/framing.ts'
import { healthRoutes } from './http/health.ts'
import { identifyRoutes } from './http/identify.ts'
import { identityRoutes } from './http/identities.ts'
import { useStrictJsonParser } from './http/json-parser.ts'
import { metricsHttpPlugin } from './http/metrics-plugin.ts'
import { operatorRoutes } from './http/operator.ts'
import { protectionPlugin, trustProxyOption } from './http/protection.ts'
import { RequestLog } from './http/request-log.ts'
import { requestState } from './http/request-state.ts'
import { errorSchema } from './http/schemas.ts'
import { createMetrics, type Metrics } from './metrics/metrics.ts'
import { IdentityService } from './service/service.ts'
import type { Store } from './store/port.ts'

export interface AppOptions {
  readonly config: Config
  readonly store: Store
  /** A pino logger; omitted means silent (tests). */
  readonly logger?: FastifyBaseLogger
  /** The app's metrics (`/metrics`); omitted means a fresh set. */
  readonly metrics?: Metrics
}

/**
 * @example
 * const app = await buildApp({ config: loadConfig({}), store })
 * const res = await app.inject({ method: 'POST', url: '/identify', payload: { email: 'a@b.io' } })
 */
export async function buildApp({
  config,
  store,
  logger,
  metrics = createMetrics(),
}: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Silent rather than none: Fastify tells the log controller, which also counts the request for
    // /metrics, that a request completed only when the app has a logger.
    loggerInstance: logger ?? (pino({ level: 'silent' }) as FastifyBaseLogger),
    bodyLimit: config.bodyLimit,
    // Which address is the client's behind a proxy (rate limits count by it): TRUST_PROXY.
    trustProxy: trustProxyOption(config.trustProxy),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Logs and counts each completed request (metrics: GET /metrics).
    logController: new RequestLog(metrics),
    // While closing, Fastify would answer a request on an open keep-alive connection with a bare
    // 503 lacking our error shape. Serving it is better: the store closes only after the app, and
    // Fastify marks the response `Connection: close` so the client moves on.
    return503OnClosing: false,
    // No type coercion: `true` is not a phone number and `12` is not an email.
    ajv: {
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        allErrors: false,
        allowUnionTypes: true,
        keywords: ['example'],
      },
    },
    schemaErrorFormatter,
    // What Node's parser and Fastify's router refuse answers in the error shape too (src/http/).
    clientErrorHandler: answerClientError,
    frameworkErrors: errorHandler,
    // Node's own missing-Host 400 has no body; refuseAmbiguousFraming checks Host instead.
    http: { requireHostHeader: false },
  })

  // JSON only: without this, Fastify's built-in text/plain parser would turn a 415 into a confusing 400.
  app.removeContentTypeParser('text/plain')
  useStrictJsonParser(app)
  app.addSchema(errorSchema)
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
  // Synchronous: an async hook costs a promise and a microtask on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
  await app.register(requestState)
  refuseAmbiguousFraming(app)
  guardConnections(app)

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins],
    })
  }

  // After CORS, so preflights are never rate limited and a shed answer still carries CORS headers.
  await app.register(protectionPlugin, { config, pages: { '/docs': {} } })
  await app.register(metricsHttpPlugin, { config, metrics })

  await app.register(swagger, {
    // Shared schemas keep their $id as their name (`Error`), not `def-0`.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      // 3.1: JSON Schema's `type: ['string', 'null']` as it is; 3.0 has no null type.
      openapi: '3.1.0',
      info: {
        title: 'Identity reconciliation',
        description:
          'Links contacts that share an email or a phone number into one identity (the BiteSpeed `/identify` contract).',
        version: '0.1.0',
      },
      tags: [
        { name: 'identity', description: 'Reconciliation' },
        { name: 'operator', description: 'Operator API (needs a key from ADMIN_API_KEYS)' },
        { name: 'operations', description: 'Health and readiness' },
      ],
      components: {
        securitySchemes: {
          operatorKey: { type: 'http', scheme: 'bearer', description: 'A key from ADMIN_API_KEYS.' },
          apiKey: { type: 'http', scheme: 'bearer', description: 'A key from API_KEYS (only when it is set).' },
        },
      },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  const service = new IdentityService(store)
  const normalize = { defaultCountry: config.phoneDefaultCountry }
  identifyRoutes(app, service, { apiKeys: config.apiKeys, normalize })
  identityRoutes(app, service, { adminApiKeys: config.adminApiKeys, normalize })
  operatorRoutes(app, service, { adminApiKeys: config.adminApiKeys, normalize })
  healthRoutes(app, store)
  await app.register(consoleRoutes)
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.ready()
  return app
}
