/**
 * `buildApp`: the Fastify instance with its plugins, error handling and routes. It never listens
 * (`server.ts` does), so tests drive it with `app.inject()`.
 */
import { randomUUID } from 'node:crypto'
import cors from '@fastify/cors'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Config } from './config.ts'
import { consoleRoutes } from './http/console.ts'
import { errorHandler, notFoundHandler, schemaErrorFormatter } from './http/errors.ts'
import { healthRoutes } from './http/health.ts'
import { identifyRoutes } from './http/identify.ts'
import { identityRoutes } from './http/identities.ts'
import { operatorRoutes } from './http/operator.ts'
import { RequestLog } from './http/request-log.ts'
import { errorSchema } from './http/schemas.ts'
import { IdentityService } from './service/service.ts'
import type { Store } from './store/port.ts'

export interface AppOptions {
  readonly config: Config
  readonly store: Store
  /** A pino logger; omitted means silent (tests). */
  readonly logger?: FastifyBaseLogger
}

/**
 * @example
 * const app = await buildApp({ config: loadConfig({}), store })
 * const res = await app.inject({ method: 'POST', url: '/identify', payload: { email: 'a@b.io' } })
 */
export async function buildApp({ config, store, logger }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: config.bodyLimit,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    logController: new RequestLog(),
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
  })

  // JSON only: without this, Fastify's built-in text/plain parser would turn a 415 into a confusing 400.
  app.removeContentTypeParser('text/plain')
  app.addSchema(errorSchema)
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins],
    })
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
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
