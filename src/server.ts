/**
 * Entry point: config → store → app → listen (see serve.ts). On SIGTERM/SIGINT it stops accepting
 * connections, lets in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), then closes the database.
 * Logs `identity service ready` with the bound `port` once it listens.
 */
import { serve } from './serve.ts'

await serve(process.env)
