/**
 * `startServer(config)`: config → store → app → listen, with a graceful close on SIGTERM/SIGINT
 * (stop accepting, let in-flight requests finish up to SHUTDOWN_TIMEOUT_MS, close the database).
 * Shared by the `server.ts` entry point and `identity serve`.
 */
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.ts'
import type { Config } from './config.ts'
import { createLogger, flushLogger } from './logger.ts'
import { openStore } from './store/open.ts'

/**
 * Starts the service; resolves once it listens. On a start-up failure it logs and exits with 1.
 *
 * @example
 * await startServer(loadConfig(process.env))
 */
export async function startServer(config: Config): Promise<FastifyInstance> {
  const logger = createLogger(config.logLevel)
  try {
    const store = await openStore(config, { logger: logger.child({ component: 'store' }) })
    const app = await buildApp({ config, store, logger })

    closeWithGrace({ delay: config.shutdownTimeoutMs, ...shutdownLog(logger) }, async ({ signal, err }) => {
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

/** close-with-grace prints plain text on `console` by default; here every line is JSON, flushed before it exits. */
function shutdownLog(logger: Logger) {
  const fatal = (fields: object, message: string) => {
    logger.error(fields, message)
    flushLogger(logger)
  }
  return {
    logger: {
      error: (message: unknown) =>
        message instanceof Error ? fatal({ err: message }, 'shutdown failed') : fatal({}, String(message)),
    },
    onTimeout: (delay: number) =>
      fatal({ delay }, `in-flight requests did not finish within SHUTDOWN_TIMEOUT_MS (${delay} ms); exiting with 1`),
    onSecondSignal: (signal: string) => fatal({ signal }, `second ${signal} while shutting down; exiting with 1`),
    onSecondError: (err: unknown) => fatal({ err }, 'second uncaught error while shutting down; exiting with 1'),
  }
}
