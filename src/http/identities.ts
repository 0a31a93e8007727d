/**
 * The operator's read API (SPEC §7): an identity by contact id or by value, a contact, an
 * identity's history and the chain that joins two of its contacts. Every route needs an operator
 * key and none of them ever writes.
 */
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'
import { type NormalizeOptions, normalizeEmail, normalizePhoneNumber } from '../identity/normalize.ts'
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from '../service/reads.ts'
import type { IdentityService } from '../service/service.ts'
import { operatorGuard } from './operator-auth.ts'
import {
  commonErrorResponses,
  errorResponse,
  explainSchema,
  historySchema,
  identitySchema,
  storedContactSchema,
} from './schemas.ts'

const OPERATOR_ERRORS: Record<number, Parameters<typeof errorResponse>> = {
  400: [
    'A path, query or body value is invalid; the message says which. Nothing was changed.',
    'ERR_INVALID_INPUT',
    'contactId must be a positive whole number',
  ],
  401: [
    'No operator key was sent, or not one of ADMIN_API_KEYS.',
    'ERR_UNAUTHORIZED',
    'send "Authorization: Bearer <key>" with a key from ADMIN_API_KEYS',
  ],
  403: [
    'The operator API is off: ADMIN_API_KEYS is not set.',
    'ERR_OPERATOR_API_DISABLED',
    'the operator API is disabled: set ADMIN_API_KEYS to one or more comma-separated keys (e.g. `openssl rand -hex 24`) and restart, then send one as "Authorization: Bearer <key>"',
  ],
  404: [
    'No live contact (or link, or block-list entry) has that id or value.',
    'ERR_NOT_FOUND',
    'no live contact has id 42',
  ],
  409: [
    'The two contacts belong to different identities: no chain joins them.',
    'ERR_NOT_SAME_IDENTITY',
    'contacts 1 and 9 belong to different identities (primaries 1 and 9)',
  ],
  503: [
    'Storage is unavailable or shutting down; nothing was changed. Retry later.',
    'ERR_STORAGE_UNAVAILABLE',
    'the database is closed (shutting down)',
  ],
}

/** The error responses of an operator route, each with its own description and example. */
export const errorResponses = (...statuses: number[]) => ({
  ...Object.fromEntries(
    statuses.map((s) => [s, errorResponse(...(OPERATOR_ERRORS[s] as Parameters<typeof errorResponse>))]),
  ),
  ...commonErrorResponses,
})
const errors = errorResponses

export const idParams = (name: string, description = 'A contact id (a positive whole number).') =>
  ({
    type: 'object',
    required: [name],
    properties: { [name]: { type: 'string', description } },
  }) as const

/** A positive whole number from a path or query string, or a 400 naming `name`. */
export function parseId(raw: unknown, name: string): number {
  if (typeof raw !== 'string' || !/^[0-9]{1,15}$/.test(raw) || Number(raw) < 1) {
    throw new AppError('ERR_INVALID_INPUT', `${name} must be a positive whole number`)
  }
  return Number(raw)
}

export function wholeNumber(raw: unknown, name: string, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback
  if (typeof raw !== 'string' || !/^[0-9]{1,15}$/.test(raw)) {
    throw new AppError('ERR_INVALID_INPUT', `${name} must be a whole number`)
  }
  const value = Number(raw)
  if (value > max) throw new AppError('ERR_INVALID_INPUT', `${name} must be at most ${max}`)
  return value
}

export interface OperatorRouteOptions {
  readonly adminApiKeys: readonly string[]
  readonly normalize: NormalizeOptions
}

export function identityRoutes(app: FastifyInstance, service: IdentityService, options: OperatorRouteOptions): void {
  const preHandler = operatorGuard({ adminApiKeys: options.adminApiKeys })
  const security = [{ operatorKey: [] }]

  app.get(
    '/identities/:contactId',
    {
      preHandler,
      schema: {
        summary: 'The identity holding a live contact',
        description: 'The `/identify` view, every live contact oldest first, and the links that record its merges.',
        tags: ['operator'],
        security,
        params: idParams('contactId'),
        response: { 200: identitySchema, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { contactId } = request.params as { contactId: string }
      return service.identity({ contactId: parseId(contactId, 'contactId') }, { requestId: request.id })
    },
  )

  app.get(
    '/identities',
    {
      preHandler,
      schema: {
        summary: 'The identity holding an email or a phone number',
        description: 'Exactly one of `email` and `phoneNumber`, normalised as `/identify` normalises it.',
        tags: ['operator'],
        security,
        querystring: {
          type: 'object',
          properties: {
            email: { type: 'string', example: 'Mcfly@HillValley.edu' },
            phoneNumber: { type: 'string', example: '(123) 456' },
          },
        },
        response: { 200: identitySchema, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const query = request.query as { email?: string; phoneNumber?: string }
      const email = normalizeEmail(query.email)
      const phoneNumber = normalizePhoneNumber(query.phoneNumber, options.normalize)
      if ((email === null) === (phoneNumber === null)) {
        throw new AppError('ERR_INVALID_INPUT', 'give exactly one of the query parameters email and phoneNumber')
      }
      const selector = email !== null ? { email } : { phoneNumber: phoneNumber as string }
      return service.identity(selector, { requestId: request.id })
    },
  )

  app.get(
    '/contacts/:id',
    {
      preHandler,
      schema: {
        summary: 'One contact, live or deleted',
        tags: ['operator'],
        security,
        params: idParams('id'),
        response: { 200: storedContactSchema, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string }
      return service.contact(parseId(id, 'id'), { requestId: request.id })
    },
  )

  app.get(
    '/identities/:contactId/history',
    {
      preHandler,
      schema: {
        summary: "An identity's history, oldest first",
        description:
          'Every event about any contact that is or was part of this identity. After a split, each part keeps the ' +
          `whole history from before it. Pages of \`limit\` events (default ${HISTORY_DEFAULT_LIMIT}, at most ` +
          `${HISTORY_MAX_LIMIT}); pass \`next\` as \`after\` for the following page.`,
        tags: ['operator'],
        security,
        params: idParams('contactId'),
        querystring: {
          type: 'object',
          properties: {
            after: { type: 'string', description: 'The cursor from the previous page (an event id).' },
            limit: { type: 'string', description: `Events per page, 1–${HISTORY_MAX_LIMIT}.` },
          },
        },
        response: { 200: historySchema, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { contactId } = request.params as { contactId: string }
      const query = request.query as { after?: string; limit?: string }
      const limit = wholeNumber(query.limit, 'limit', HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)
      if (limit < 1) throw new AppError('ERR_INVALID_INPUT', 'limit must be at least 1')
      const after = wholeNumber(query.after, 'after', 0, Number.MAX_SAFE_INTEGER)
      return service.history(parseId(contactId, 'contactId'), { after, limit }, { requestId: request.id })
    },
  )

  app.get(
    '/identities/:contactId/explain',
    {
      preHandler,
      schema: {
        summary: 'Why two contacts are one identity',
        description:
          'The shortest chain joining two live contacts of one identity, each step naming the email, phone number ' +
          'or link it shares with the step before. `409 ERR_NOT_SAME_IDENTITY` when they are not one identity.',
        tags: ['operator'],
        security,
        params: idParams('contactId'),
        querystring: {
          type: 'object',
          properties: { to: { type: 'string', description: 'The other contact id.' } },
        },
        response: { 200: explainSchema, ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => {
      const { contactId } = request.params as { contactId: string }
      const { to } = request.query as { to?: string }
      if (to === undefined || to === '') throw new AppError('ERR_INVALID_INPUT', 'give the other contact as ?to=<id>')
      return service.explain(parseId(contactId, 'contactId'), parseId(to, 'to'), { requestId: request.id })
    },
  )
}
