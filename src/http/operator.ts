/**
 * The operator's write API (SPEC §8–§9): deleting a contact or a link with regrouping, erasure,
 * the block list, and the hubs report. Every route needs an operator key.
 */
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'
import type { BlockKind } from '../identity/blocklist.ts'
import { type NormalizeOptions, normalizeEmail, normalizePhoneNumber } from '../identity/normalize.ts'
import { HUBS_DEFAULT_LIMIT, HUBS_MAX_LIMIT } from '../service/operator.ts'
import type { IdentityService } from '../service/service.ts'
import { errorResponses, idParams, parseId, wholeNumber } from './identities.ts'
import { operatorGuard } from './operator-auth.ts'
import {
  blockBodySchema,
  blockedValueSchema,
  erasedSchema,
  hubsSchema,
  remainingSchema,
  unblockedSchema,
} from './schemas.ts'

export interface OperatorWriteOptions {
  readonly adminApiKeys: readonly string[]
  readonly normalize: NormalizeOptions
}

export function operatorRoutes(app: FastifyInstance, service: IdentityService, options: OperatorWriteOptions): void {
  const preHandler = operatorGuard({ adminApiKeys: options.adminApiKeys })
  const security = [{ operatorKey: [] }]

  app.delete(
    '/contacts/:id',
    {
      preHandler,
      schema: {
        summary: 'Delete a contact and regroup what it joined',
        description:
          'Soft-deletes one live contact. The remaining contacts of its identity are regrouped by shared values and ' +
          'links: each group no longer joined becomes its own identity under its oldest contact.',
        tags: ['operator'],
        security,
        params: idParams('id'),
        response: { 200: remainingSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string }
      return service.deleteContact(parseId(id, 'id'), { requestId: request.id })
    },
  )

  app.delete(
    '/links/:id',
    {
      preHandler,
      schema: {
        summary: 'Remove a merge that should not have been',
        description: 'Deletes one link and regroups the identities holding its values, as deleting a contact does.',
        tags: ['operator'],
        security,
        params: idParams('id', 'A link id (from GET /identities/…).'),
        response: { 200: remainingSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string }
      return service.deleteLink(parseId(id, 'id'), { requestId: request.id })
    },
  )

  app.delete(
    '/identities/:contactId',
    {
      preHandler,
      schema: {
        summary: 'Erase an identity (privacy request)',
        description:
          'Removes for good every contact of the identity — with the deleted ones that were last part of it — and every ' +
          'link naming their values; its events keep ids, types and times but no email or phone number. ' +
          'docs/erasure.md says what erasure does and does not reach.',
        tags: ['operator'],
        security,
        params: idParams('contactId'),
        response: { 200: erasedSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { contactId } = request.params as { contactId: string }
      return service.erase(parseId(contactId, 'contactId'), { requestId: request.id })
    },
  )

  app.post(
    '/blocked-values',
    {
      preHandler,
      schema: {
        summary: 'Block a junk value or pattern',
        description:
          'A blocked value counts as absent in /identify and imports; identities it bridged are regrouped. A pattern is ' +
          'a regular expression in RE2 syntax (linear time: no backreferences or lookaround), searched in normalised ' +
          'values. Blocking what is already blocked answers 200 with the existing entry.',
        tags: ['operator'],
        security,
        body: blockBodySchema,
        response: {
          201: { ...blockedValueSchema, description: 'Blocked.' },
          200: { ...blockedValueSchema, description: 'Already blocked: the existing entry.' },
          ...errorResponses(400, 401, 403, 503),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { kind: BlockKind; value?: string; pattern?: string }
      let value: string | null = null
      if (body.value !== undefined) {
        value = body.kind === 'email' ? normalizeEmail(body.value) : normalizePhoneNumber(body.value, options.normalize)
        if (value === null) throw new AppError('ERR_INVALID_INPUT', 'value is blank')
      }
      const { entry, created } = await service.block(
        { kind: body.kind, value, pattern: body.pattern ?? null },
        { requestId: request.id },
      )
      void reply.code(created ? 201 : 200)
      return entry
    },
  )

  app.get(
    '/blocked-values',
    {
      preHandler,
      schema: {
        summary: 'The block list',
        tags: ['operator'],
        security,
        response: {
          200: {
            type: 'object',
            required: ['blockedValues'],
            properties: { blockedValues: { type: 'array', items: blockedValueSchema } },
          },
          ...errorResponses(401, 403, 503),
        },
      },
    },
    async (request) => service.blocked({ requestId: request.id }),
  )

  app.delete(
    '/blocked-values/:id',
    {
      preHandler,
      schema: {
        summary: 'Unblock a value or pattern',
        description: 'The identities its values (and the links naming them) joined become one again.',
        tags: ['operator'],
        security,
        params: idParams('id', 'A blocked-value id.'),
        response: { 200: unblockedSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string }
      return service.unblock(parseId(id, 'id'), { requestId: request.id })
    },
  )

  app.get(
    '/insights/hubs',
    {
      preHandler,
      schema: {
        summary: 'Where junk hides',
        description: `The values held by the most live contacts and the largest identities, most first (\`limit\` 1–${HUBS_MAX_LIMIT}, default ${HUBS_DEFAULT_LIMIT}).`,
        tags: ['operator'],
        security,
        querystring: { type: 'object', properties: { limit: { type: 'string' } } },
        response: { 200: hubsSchema, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const { limit } = request.query as { limit?: string }
      const n = wholeNumber(limit, 'limit', HUBS_DEFAULT_LIMIT, HUBS_MAX_LIMIT)
      if (n < 1) throw new AppError('ERR_INVALID_INPUT', 'limit must be at least 1')
      return service.hubs(n, { requestId: request.id })
    },
  )
}
