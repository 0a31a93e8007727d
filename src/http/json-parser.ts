/**
 * The `application/json` body parser. Fastify's own decodes bodies lossily (a stray `\xff` becomes
 * U+FFFD, so different bytes become one stored value) and refuses `__proto__` keys as "not valid
 * JSON". This one refuses bytes that are not UTF-8 and removes poisoned keys (`__proto__`,
 * `constructor.prototype`) with secure-json-parse, Fastify's own guard: like any unknown key, they
 * are ignored, and they never reach an object's prototype.
 */
import type { FastifyInstance } from 'fastify'
import secureJson from 'secure-json-parse'
import { AppError } from '../errors.ts'

// fatal: a malformed sequence throws instead of becoming U+FFFD. A leading byte-order mark is dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true })
const POISON = { protoAction: 'remove', constructorAction: 'remove' } as const

/**
 * Decodes and parses one JSON body; throws `ERR_INVALID_INPUT` saying what is wrong.
 *
 * @example
 * parseJsonBody(Buffer.from('{"__proto__":{},"email":"a@b.io"}')) // { email: 'a@b.io' }
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) {
    throw new AppError('ERR_INVALID_INPUT', 'the body is empty; send a JSON object such as {"email":"…"}')
  }
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    throw new AppError('ERR_INVALID_INPUT', 'the body is not valid UTF-8; send JSON text encoded as UTF-8')
  }
  try {
    return secureJson.parse(text, undefined, POISON)
  } catch (err) {
    throw new AppError('ERR_INVALID_INPUT', `the body is not valid JSON: ${(err as Error).message}`)
  }
}

/** Replaces Fastify's JSON parser with `parseJsonBody` (any `charset` parameter is accepted; JSON is UTF-8). */
export function useStrictJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
}
