/**
 * `serve(env)` / `startServer(config)`: config → store → app → listen, with a graceful close on
 * SIGTERM/SIGINT (stop accepting, let in-flight requests finish up to SHUTDOWN_TIMEOUT_MS, close the
 * database). Shared by the `server.ts` entry point and `identity serve`. A start that fails for a
 * reason the operator can fix (a setting, the database, the address) is one JSON line naming it.
 */
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.ts'
import { type Config, ConfigError, loadConfig } from './config.ts'
import { AppError } from './errors.ts'
import { createLogger, flushLogger } from './logger.ts'
import { createMetrics } from './metrics/metrics.ts'
import { IdentityService } from './service/service.ts'
import { openStore } from './store/open.ts'
import { PostgresStore } from './store/postgres.ts'
import { SqliteStore } from './store/sqlite.ts'

/**
 * Reads the configuration from `env` and starts the service; a bad setting exits with 1 after one
 * line saying which.
 *
 * @example
 * await serve(process.env)
 */
export async function serve(env: Readonly<Record<string, string | undefined>>): Promise<FastifyInstance> {
  let config: Config
  try {
    config = loadConfig(env)
  } catch (err) {
    return startFailed(createLogger('info'), err)
  }
  return startServer(config)
}

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
    } else if (store instanceof SqliteStore) {
      metrics.setCommitSource(() => store.stats)
    }
    // BLOCK_COMMON_JUNK: the built-in list goes in (or out) through the same blocking as an
    // operator's, so identities it bridged are regrouped before the first request.
    const junk = await new IdentityService(store).syncCommonJunk(config.blockCommonJunk)
    if (junk.added + junk.removed > 0) logger.info(junk, 'built-in block list of common junk synchronised')
    const app = await buildApp({ config, store, logger, metrics })

    closeWithGrace({ delay: config.shutdownTimeoutMs, ...shutdownLog(logger) }, async ({ signal, err }) => {
      if (err) logger.error({ err }, 'shutting down after an uncaught error')
      else logger.info({ signal }, 'shutting down')
      flushLogger(logger)
      await app.close()
      await store.close()
    })

    try {
      await app.listen({ host: config.host, port: config.port })
    } catch (err) {
      throw listenError(err, config)
    }
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : config.port
    // Tests and supervisors wait for this line; with PORT=0 it names the port the system chose.
    logger.info({ engine: store.engine, host: config.host, port }, 'identity service ready')
    flushLogger(logger)
    return app
  } catch (err) {
    return startFailed(logger, err)
  }
}

/** Logs why the start failed — without a stack when the operator can fix it — and exits with 1. */
function startFailed(logger: Logger, err: unknown): never {
  if (err instanceof ConfigError || err instanceof AppError) {
    logger.fatal({ code: err.code }, `could not start: ${err.message}`)
  } else {
    logger.fatal({ err }, 'could not start')
  }
  flushLogger(logger)
  process.exit(1)
}

/** `listen` fails with the system's words (`getaddrinfo ENOTFOUND 999.1.1.1`); say which setting. */
function listenError(err: unknown, { host, port }: Config): unknown {
  const code = (err as { code?: unknown }).code
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`PORT ${port} is already in use on ${host}; choose another PORT or stop what holds it`)
    case 'EACCES':
      return new ConfigError(`PORT ${port} on ${host} needs privileges; choose a PORT above 1023`)
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EADDRNOTAVAIL':
    case 'EINVAL':
      return new ConfigError(
        `HOST "${host}" is not an address of this machine (${code}); use 0.0.0.0, 127.0.0.1 or one of its addresses`,
      )
    default:
      return err
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
