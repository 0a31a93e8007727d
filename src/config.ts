/**
 * `loadConfig(env)`: the one validated, frozen configuration the server, the CLI and the tests share.
 * Pure: it reads only the object it is given. Every variable is listed in the README's table.
 */
import { type CountryCode, isSupportedCountry } from 'libphonenumber-js'
import { type DatabaseTarget, parseDatabaseUrl } from './store/url.ts'

export type SqliteSynchronous = 'normal' | 'full'

export interface Config {
  readonly host: string
  readonly port: number
  readonly databaseUrl: string
  readonly database: DatabaseTarget
  readonly logLevel: string
  /** Allowed browser origins; empty means CORS is off. `['*']` allows any origin. */
  readonly corsOrigins: readonly string[]
  readonly bodyLimit: number
  readonly shutdownTimeoutMs: number
  readonly sqliteSynchronous: SqliteSynchronous
  /** PHONE_DEFAULT_COUNTRY: E.164 normalisation for numbers valid in this country; null means off. */
  readonly phoneDefaultCountry: CountryCode | null
  /** PostgreSQL connection pool size. */
  readonly dbPoolSize: number
  /** PostgreSQL per-statement timeout. */
  readonly dbStatementTimeoutMs: number
  /** How long start-up waits for an unreachable PostgreSQL before giving up (0: fail at once). */
  readonly dbStartupWaitMs: number
}

export const DEFAULT_DATABASE_URL = 'sqlite:./data/contacts.db'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/**
 * Builds the configuration from environment-style variables; throws a `ConfigError` naming the
 * variable when a value is unusable.
 *
 * @example
 * const config = loadConfig(process.env)
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const databaseUrl = text(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL
  let database: DatabaseTarget
  try {
    database = parseDatabaseUrl(databaseUrl)
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const logLevel = text(env, 'LOG_LEVEL') ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`)
  }
  const sqliteSynchronous = (text(env, 'SQLITE_SYNCHRONOUS') ?? 'normal').toLowerCase()
  if (sqliteSynchronous !== 'normal' && sqliteSynchronous !== 'full') {
    throw new ConfigError(`SQLITE_SYNCHRONOUS must be "normal" or "full" (got "${sqliteSynchronous}")`)
  }
  const country = text(env, 'PHONE_DEFAULT_COUNTRY')?.toUpperCase() ?? null
  if (country !== null && !/^[A-Z]{2}$/.test(country)) {
    throw new ConfigError(`PHONE_DEFAULT_COUNTRY must be a two-letter country code such as US or IN (got "${country}")`)
  }
  if (country !== null && !isSupportedCountry(country)) {
    throw new ConfigError(
      `PHONE_DEFAULT_COUNTRY "${country}" is an unknown country code; use an ISO 3166-1 code such as US or IN`,
    )
  }
  const cors = text(env, 'CORS_ORIGINS')
  return Object.freeze({
    host: text(env, 'HOST') ?? '0.0.0.0',
    port: integer(env, 'PORT', 3000, 0, 65535),
    databaseUrl,
    database,
    logLevel,
    corsOrigins: Object.freeze(
      cors === undefined
        ? []
        : cors
            .split(',')
            .map((o) => o.trim())
            .filter((o) => o !== '')
            .map(corsOrigin),
    ),
    bodyLimit: integer(env, 'BODY_LIMIT', 65536, 1024, 64 * 1024 * 1024),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10000, 0, 600000),
    sqliteSynchronous,
    phoneDefaultCountry: country as CountryCode | null,
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 10, 1, 1000),
    dbStatementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 5000, 0, 3600000),
    dbStartupWaitMs: integer(env, 'DB_STARTUP_WAIT_MS', 30000, 0, 3600000),
  })
}

/** A configuration value is missing or unusable; the message names the variable. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/**
 * One CORS_ORIGINS entry: `*`, or an origin as browsers send it in `Origin` (scheme://host[:port],
 * lower-case, no path), which is what the CORS plugin compares with.
 */
function corsOrigin(entry: string): string {
  if (entry === '*') return entry
  const refused = new ConfigError(
    `CORS_ORIGINS entries must be * or an origin such as https://shop.example or http://localhost:5173 (got "${entry}")`,
  )
  let url: URL
  try {
    url = new URL(entry)
  } catch {
    throw refused
  }
  const web = url.protocol === 'http:' || url.protocol === 'https:'
  if (!web || url.username !== '' || url.password !== '' || url.pathname !== '/' || /[?#]/.test(entry)) throw refused
  return url.origin
}

function text(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function integer(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`)
  }
  return value
}
