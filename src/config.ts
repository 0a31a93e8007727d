/**
 * `loadConfig(env)`: the one validated, frozen configuration the server, the CLI and the tests share.
 * Pure: it reads only the object it is given. Every variable is listed in the README's table.
 */
import { isIP } from 'node:net'
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
  /** ADMIN_API_KEYS: bearer keys for the operator routes and `/metrics`; empty means the operator API is off. */
  readonly adminApiKeys: readonly string[]
  /** API_KEYS: bearer keys `/identify` requires; empty means `/identify` is open. */
  readonly apiKeys: readonly string[]
  /** BLOCK_COMMON_JUNK: keep the built-in list of common junk values in the block list. */
  readonly blockCommonJunk: boolean
  /** METRICS_PUBLIC: serve `/metrics` without an operator key. */
  readonly metricsPublic: boolean
  /** RATE_LIMIT_PER_MINUTE: requests per key (or client address) per minute; 0 means no limit. */
  readonly rateLimitPerMinute: number
  /** TRUST_PROXY, as Fastify's `trustProxy`: which proxies' X-Forwarded-For decides the client address. */
  readonly trustProxy: TrustProxy
  /** OVERLOAD_*: bounds past which requests are shed with 503; each 0 means unchecked. */
  readonly overload: OverloadBounds
}

/**
 * Fastify's `trustProxy`. `false`: the socket's address counts; `true`: the left-most X-Forwarded-For
 * entry; a number: that many proxy hops; a string: the comma-separated proxies (addresses, CIDRs).
 */
export type TrustProxy = boolean | number | string

export interface OverloadBounds {
  /** Mean event-loop delay over one sample, in milliseconds. */
  readonly maxEventLoopDelayMs: number
  /** Event-loop utilisation over one sample, from 0 to 1. */
  readonly maxEventLoopUtilization: number
  readonly maxHeapUsedBytes: number
  readonly maxRssBytes: number
  /** How often the bounds are sampled. */
  readonly sampleIntervalMs: number
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
    adminApiKeys: apiKeyList(env, 'ADMIN_API_KEYS'),
    apiKeys: apiKeyList(env, 'API_KEYS'),
    blockCommonJunk: boolean(env, 'BLOCK_COMMON_JUNK', false),
    metricsPublic: boolean(env, 'METRICS_PUBLIC', false),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 0, 0, 1_000_000_000),
    trustProxy: trustProxy(env),
    overload: Object.freeze({
      maxEventLoopDelayMs: integer(env, 'OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', 0, 0, 3600000),
      maxEventLoopUtilization: fraction(env, 'OVERLOAD_MAX_EVENT_LOOP_UTILIZATION'),
      maxHeapUsedBytes: integer(env, 'OVERLOAD_MAX_HEAP_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
      maxRssBytes: integer(env, 'OVERLOAD_MAX_RSS_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
      sampleIntervalMs: integer(env, 'OVERLOAD_SAMPLE_INTERVAL_MS', 1000, 10, 60000),
    }),
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

/** A comma-separated list, blanks dropped, frozen. */
function list(env: Readonly<Record<string, string | undefined>>, name: string): readonly string[] {
  const raw = text(env, name)
  return Object.freeze(
    raw === undefined
      ? []
      : raw
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== ''),
  )
}

// Short keys can be guessed; a minimum keeps a typo such as ADMIN_API_KEYS=yes from becoming the key.

function apiKeyList(env: Readonly<Record<string, string | undefined>>, name: string): readonly string[] {
  const keys = list(env, name)
  for (const [i, key] of keys.entries()) {
    // The message names the position, never the key: configuration errors end up in logs.
    if (!/^[\x21-\x7e]+$/.test(key)) {
      throw new ConfigError(
        `${name}: key ${i + 1} must be printable characters without spaces (generate one with \`openssl rand -hex 32\`)`,
      )
    }
  }
  return keys
}

function boolean(env: Readonly<Record<string, string | undefined>>, name: string, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase()
  if (raw === undefined) return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new ConfigError(`${name} must be "true" or "false" (got "${raw}")`)
}

function fraction(env: Readonly<Record<string, string | undefined>>, name: string): number {
  const raw = text(env, name)
  if (raw === undefined) return 0
  const value = Number(raw)
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(raw) || value < 0 || value > 1) {
    throw new ConfigError(`${name} must be a number from 0 to 1, such as 0.95 (got "${raw}")`)
  }
  return value
}

// proxy-addr's names for address ranges, accepted by Fastify's trustProxy next to addresses and CIDRs.
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal']

function trustProxy(env: Readonly<Record<string, string | undefined>>): TrustProxy {
  const raw = text(env, 'TRUST_PROXY')
  if (raw === undefined || raw.toLowerCase() === 'false') return false
  if (raw.toLowerCase() === 'true') return true
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw)
    if (hops < 1 || hops > 100) throw new ConfigError(`TRUST_PROXY as a hop count must be from 1 to 100 (got "${raw}")`)
    return hops
  }
  const entries = list(env, 'TRUST_PROXY')
  for (const entry of entries) {
    if (!isProxyAddress(entry)) {
      throw new ConfigError(
        'TRUST_PROXY must be true, false, a hop count, or a comma-separated list of addresses, CIDR ranges ' +
          `or ${PROXY_RANGE_NAMES.join('/')} (got "${entry}")`,
      )
    }
  }
  return entries.join(',')
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.includes(entry)) return true
  const [address = '', prefix, extra] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || extra !== undefined) return false
  if (prefix === undefined) return true
  const bits = Number(prefix)
  return /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128)
}
