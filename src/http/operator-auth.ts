/**
 * API keys (SPEC §7): `Authorization: Bearer <key>`. The operator routes need a key from
 * ADMIN_API_KEYS — none configured means the operator API is off (403, saying how to turn it on);
 * `/identify` needs one from API_KEYS only when that is set. Keys are compared in constant time
 * (both sides hashed to the same length, every key checked) and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { AppError } from '../errors.ts'

const digest = (key: string) => createHash('sha256').update(key).digest()

/**
 * True when `presented` equals one of `digests`, taking the same time whichever matches (or none).
 *
 * @example
 * matchesAnyKey('secret…', keys.map(digestKey)) // true
 */
export function matchesAnyKey(presented: string, digests: readonly Buffer[]): boolean {
  const candidate = digest(presented)
  let found = false
  for (const d of digests) found = timingSafeEqual(candidate, d) || found
  return found
}

export const digestKey = digest

/** The bearer token of a request, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (typeof header !== 'string') return null
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1] ?? null
}

function requireKey(digests: readonly Buffer[], what: string): preHandlerAsyncHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(request)
    if (token === null) {
      throw new AppError('ERR_UNAUTHORIZED', `${what} needs an API key: send "Authorization: Bearer <key>"`)
    }
    if (!matchesAnyKey(token, digests)) throw new AppError('ERR_UNAUTHORIZED', 'the API key is not valid')
  }
}

/**
 * The guard of every operator route.
 *
 * @example
 * app.get('/identities/:contactId', { preHandler: operatorGuard(config.adminApiKeys) }, handler)
 */
export function operatorGuard(adminApiKeys: readonly string[]): preHandlerAsyncHookHandler {
  if (adminApiKeys.length === 0) {
    return async () => {
      throw new AppError(
        'ERR_OPERATOR_API_DISABLED',
        'the operator API is disabled: set ADMIN_API_KEYS to one or more comma-separated keys (e.g. `openssl rand -hex 24`) and restart',
      )
    }
  }
  return requireKey(adminApiKeys.map(digest), 'the operator API')
}

/** The guard of `/identify`: none unless API_KEYS is set. */
export function clientGuard(apiKeys: readonly string[]): preHandlerAsyncHookHandler | undefined {
  return apiKeys.length === 0 ? undefined : requireKey(apiKeys.map(digest), 'POST /identify')
}
