/**
 * `startServer(config)`: config → store → app → listen, with a graceful close on SIGTERM/SIGINT
 * (stop accepting, let in-flight requests finish up to SHUTDOWN_TIMEOUT_MS, close the database).
 * Shared by the `server.ts` entry point and `identity serve`.
 */
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.ts'
import type { Config } from './config.ts'
import { createLogger, flushLogger } from './logger.ts'
import { createMetrics } from './metrics/metrics.ts'
import { IdentityService } from './service/service.ts'
import { openStore } from './store/open.ts'
import { PostgresStore } from './store/postgres.ts'

/**
 * Starts the service; resolves once it listens. On a start-up failure it logs and exits with 1.
 *
 * @example
 * await startServer(loadConfig(process.env))
 */
export async function startServer(config: Config): Promise<FastifyInstance> {
  const logger = createLogger(config.logLevel)
  try {
    const metrics = createMetrics()
    const store = await openStore(config, { logger: logger.child({ component: 'store' }), observer: metrics.store })
    if (store instanceof PostgresStore) {
      const { pool } = store
      metrics.setPoolSource(() => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }))
    }
    // BLOCK_COMMON_JUNK: the built-in list goes in (or out) through the same blocking as an
    // operator's, so identities it bridged are regrouped before the first request.
    const junk = await new IdentityService(store).syncCommonJunk(config.blockCommonJunk)
    if (junk.added + junk.removed > 0) logger.info(junk, 'built-in block list of common junk synchronised')
    const app = await buildApp({ config, store, logger, metrics })

    closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
      if (err) logger.error({ err }, 'shutting down after an uncaught error')
      else logger.info({ signal }, 'shutting down')
      flushLogger(logger)
      await app.close()
      await store.close()
    })

    await app.listen({ host: config.host, port: config.port })
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : config.port
    // Tests and supervisors wait for this line; with PORT=0 it names the port the system chose.
    logger.info({ engine: store.engine, host: config.host, port }, 'identity service ready')
    flushLogger(logger)
    return app
  } catch (err) {
    logger.fatal({ err }, 'could not start')
    process.exit(1)
  }
}
