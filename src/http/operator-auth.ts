/**
 * Bearer-key guards (SPEC §7): `operatorGuard` for the operator routes and `/metrics`
 * (ADMIN_API_KEYS), `clientGuard` for `/identify` when API_KEYS is set. Keys are compared in
 * constant time: both sides are hashed with SHA-256, so every comparison is between equal-length
 * digests, and every configured key is compared, so the time says nothing about which one matched.
 * Keys never reach a log line or an error message.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'

/** A hook usable as `onRequest` or `preHandler`. */
export type Guard = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

export function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

/**
 * Compares `candidate` with every digest in `digests`, without stopping at a match. Answers the
 * matching position (or -1) and how many digests were compared (always all of them).
 *
 * @example
 * compareKeys(digest(token), config.adminApiKeys.map(digest)).index >= 0
 */
export function compareKeys(candidate: Buffer, digests: readonly Buffer[]): { index: number; compared: number } {
  let index = -1
  let compared = 0
  for (let i = 0; i < digests.length; i++) {
    // Both are 32-byte SHA-256 digests, so timingSafeEqual never throws on a length mismatch.
    const equal = timingSafeEqual(candidate, digests[i] as Buffer)
    compared++
    // Branch-free on the match, so a hit costs what a miss costs.
    index = equal && index === -1 ? i : index
  }
  return { index, compared }
}

/** The token of `Authorization: Bearer <token>` (scheme in any case), or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return null
  const token = header.slice(7).trim()
  return token === '' ? null : token
}

/**
 * A guard that lets a request through only with one of `keys`; `disabled` is the answer when no key
 * is configured (null: the guard is not needed, and the factory returns null).
 */
function keyGuard(
  keys: readonly string[],
  variable: string,
  realm: string,
  disabled: (() => AppError) | null,
): Guard | null {
  if (keys.length === 0 && disabled === null) return null
  const digests = keys.map(digest)
  const challenge = `Bearer realm="${realm}"`
  return (request, reply, done) => {
    if (disabled !== null && digests.length === 0) return done(disabled())
    const token = bearerToken(request)
    if (token === null) {
      reply.header('www-authenticate', challenge)
      return done(new AppError('ERR_UNAUTHORIZED', `send "Authorization: Bearer <key>" with a key from ${variable}`))
    }
    if (compareKeys(digest(token), digests).index === -1) {
      reply.header('www-authenticate', challenge)
      return done(new AppError('ERR_UNAUTHORIZED', `the bearer key is not one of ${variable}`))
    }
    done()
  }
}

/**
 * The operator routes' guard: 401 `ERR_UNAUTHORIZED` without a known ADMIN_API_KEYS key, 403
 * `ERR_OPERATOR_API_DISABLED` when ADMIN_API_KEYS is not set. `disabledHint` adds a sentence to the
 * 403 message (e.g. how else to reach the route).
 *
 * @example
 * app.get('/identities/:contactId', { preHandler: operatorGuard(config) }, handler)
 */
export function operatorGuard(config: Pick<Config, 'adminApiKeys'>, disabledHint = ''): Guard {
  const disabled = () =>
    new AppError(
      'ERR_OPERATOR_API_DISABLED',
      'the operator API is disabled: set ADMIN_API_KEYS to one or more comma-separated keys (e.g. ' +
        `\`openssl rand -hex 24\`) and restart, then send one as "Authorization: Bearer <key>"${disabledHint}`,
    )
  return keyGuard(config.adminApiKeys, 'ADMIN_API_KEYS', 'operator', disabled) as Guard
}

/** `/identify`'s guard when API_KEYS is set; null when it is not (the route stays open). */
export function clientGuard(config: Pick<Config, 'apiKeys'>): Guard | null {
  return keyGuard(config.apiKeys, 'API_KEYS', 'identify', null)
}
