/**
 * What a request carries beyond Fastify's own fields, for the hooks that run when it completes (the
 * request log, the metrics): the error code it was answered with and the identify outcome. Declared
 * up front with `decorateRequest` so every request object has the same shape (V8 keeps it fast).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { ErrorCode } from '../errors.ts'
import type { IdentifyOutcome } from '../identity/outcome.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The code of the error this request was answered with; null for a success. Set by the error handlers. */
    errorCode: ErrorCode | null
    /** What `POST /identify` did to the store; null for every other request and for refusals. */
    identifyOutcome: IdentifyOutcome | null
  }
}

/** Registers the two fields on the root instance; `buildApp` does it before anything reads them. */
export const requestState = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('errorCode', null)
    app.decorateRequest('identifyOutcome', null)
  },
  { name: 'request-state', fastify: '5.x' },
)
