/**
 * Entry point: config → store → app → listen. On SIGTERM/SIGINT it stops accepting connections,
 * lets in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), then closes the database.
 */
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { loadConfig } from './config.ts'
import { createLogger } from './logger.ts'
import { openStore } from './store/open.ts'

const config = loadConfig(process.env)
const logger = createLogger(config.logLevel)

try {
  const store = await openStore(config)
  const app = await buildApp({ config, store, logger })

  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an uncaught error')
    else logger.info({ signal }, 'shutting down')
    await app.close()
    await store.close()
  })

  await app.listen({ host: config.host, port: config.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.port
  // Tests and supervisors wait for this line; with PORT=0 it names the port the system chose.
  logger.info({ engine: store.engine, host: config.host, port }, 'identity service ready')
} catch (err) {
  logger.fatal({ err }, 'could not start')
  process.exit(1)
}
