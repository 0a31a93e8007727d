/**
 * JSON schemas shared by the routes: they validate requests, serialise responses (fast-json-stringify)
 * and generate the OpenAPI document, so the three never disagree. Each response carries its own
 * description and example, which is what the document shows for that status.
 */
import type { ErrorCode } from '../errors.ts'
import { errorBody } from './errors.ts'

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error has this shape; match on `code`, show `message` to a person.',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', example: 400 },
    code: { type: 'string', example: 'ERR_INVALID_INPUT' },
    error: { type: 'string', example: 'Bad Request' },
    message: { type: 'string', example: 'email must contain exactly one "@"' },
  },
} as const

export const identifyBodySchema = {
  type: 'object',
  description: 'At least one of `email` and `phoneNumber` must be present and non-blank.',
  properties: {
    email: {
      type: ['string', 'null'],
      description: 'Trimmed and lower-cased; one "@", at most 254 characters. Blank counts as absent.',
      example: 'mcfly@hillvalley.edu',
    },
    phoneNumber: {
      type: ['string', 'number', 'null'],
      description:
        'Spaces, dashes, dots and parentheses are removed; a leading "+" is kept; at most 20 digits. ' +
        'A JSON number must be a whole number no larger than 2^53 - 1. Blank counts as absent.',
      example: '123456',
    },
  },
} as const

export const identityResponseSchema = {
  type: 'object',
  description:
    'The whole identity the request belongs to, as it stands right after the change the request made (if any); the change is committed.',
  required: ['contact'],
  examples: [
    {
      contact: {
        primaryContatctId: 1,
        emails: ['lorraine@hillvalley.edu', 'mcfly@hillvalley.edu'],
        phoneNumbers: ['123456'],
        secondaryContactIds: [23],
      },
    },
  ],
  properties: {
    contact: {
      type: 'object',
      required: ['primaryContatctId', 'emails', 'phoneNumbers', 'secondaryContactIds'],
      properties: {
        primaryContatctId: {
          type: 'integer',
          description: 'The primary contact of the identity (spelt as the original task spells it).',
          example: 1,
        },
        emails: {
          type: 'array',
          items: { type: 'string' },
          description: "The primary's email first, then the others in creation order.",
          example: ['lorraine@hillvalley.edu', 'mcfly@hillvalley.edu'],
        },
        phoneNumbers: {
          type: 'array',
          items: { type: 'string' },
          description: "The primary's phone number first, then the others in creation order.",
          example: ['123456'],
        },
        secondaryContactIds: {
          type: 'array',
          items: { type: 'integer' },
          description: 'Ascending.',
          example: [23],
        },
      },
    },
  },
} as const

const identityViewSchema = identityResponseSchema.properties.contact

const isoTime = { type: 'string', format: 'date-time', example: '2026-11-30T12:00:00.000Z' } as const

const contactProperties = {
  id: { type: 'integer', example: 7 },
  email: { type: ['string', 'null'], example: 'mcfly@hillvalley.edu' },
  phoneNumber: { type: ['string', 'null'], example: '123456' },
  linkedId: { type: ['integer', 'null'], example: 1 },
  linkPrecedence: { type: 'string', enum: ['primary', 'secondary'], example: 'secondary' },
  createdAt: isoTime,
  updatedAt: isoTime,
} as const

export const contactSchema = {
  type: 'object',
  required: Object.keys(contactProperties),
  properties: contactProperties,
} as const

export const storedContactSchema = {
  type: 'object',
  description: 'A contact, live or deleted (`deletedAt` set).',
  required: [...Object.keys(contactProperties), 'deletedAt'],
  properties: { ...contactProperties, deletedAt: { type: ['string', 'null'], format: 'date-time', example: null } },
} as const

export const linkSchema = {
  type: 'object',
  description:
    'The evidence of a merge (SPEC §6): a request whose email belonged to one identity and whose phone number to another.',
  required: ['id', 'email', 'phoneNumber', 'createdAt'],
  properties: {
    id: { type: 'integer', example: 3 },
    email: { type: 'string', example: 'george@hillvalley.edu' },
    phoneNumber: { type: 'string', example: '717171' },
    createdAt: isoTime,
  },
} as const

export const identitySchema = {
  type: 'object',
  required: ['contact', 'contacts', 'links'],
  properties: {
    contact: identityViewSchema,
    contacts: { type: 'array', items: contactSchema, description: 'Live contacts, oldest first.' },
    links: {
      type: 'array',
      items: linkSchema,
      description: 'Links naming any value the identity holds, oldest first.',
    },
    otherIdentities: {
      type: 'array',
      items: { type: 'integer' },
      description:
        'Only when looked up by a blocked value that contacts of other identities hold too (a blocked value joins ' +
        'nothing): the primary contact ids of those identities, ascending. The answer itself is the identity of ' +
        'the oldest holder.',
    },
  },
} as const

export const eventSchema = {
  type: 'object',
  description:
    'One change. Besides the common fields, each type has its own: `contact.created` contactId, linkedId, email, ' +
    'phoneNumber, linkPrecedence; `identity.merged` survivorId, mergedPrimaryId, via; `contact.deleted` contactId, ' +
    'primaryBefore; `link.deleted` link; `identity.split` primaryBefore, primariesAfter, cause; `identity.erased` ' +
    'contactIds; `value.blocked` / `value.unblocked` kind, value or pattern, blockedValueId. After an erasure the ' +
    "identity's events keep their id, type, time and contact ids, and carry `erased: true` instead of their values.",
  required: ['id', 'type', 'at', 'requestId', 'contactIds'],
  additionalProperties: true,
  properties: {
    id: { type: 'integer', example: 12 },
    type: {
      type: 'string',
      enum: [
        'contact.created',
        'identity.merged',
        'contact.deleted',
        'link.deleted',
        'identity.split',
        'identity.erased',
        'value.blocked',
        'value.unblocked',
      ],
      example: 'identity.merged',
    },
    at: isoTime,
    requestId: { type: ['string', 'null'], example: '7f1c0d9e-2b7a-4d8e-9a51-0c8d7e6f5a41' },
    contactIds: { type: 'array', items: { type: 'integer' }, example: [1, 3] },
  },
} as const

export const historySchema = {
  type: 'object',
  required: ['events', 'next'],
  properties: {
    events: { type: 'array', items: eventSchema },
    next: {
      type: ['integer', 'null'],
      description: 'Pass as `after` for the next page; null on the last page.',
      example: null,
    },
  },
} as const

export const explainSchema = {
  type: 'object',
  required: ['path'],
  properties: {
    path: {
      type: 'array',
      description: 'The shortest chain: each step names what it shares with the step before.',
      items: {
        type: 'object',
        required: ['contactId'],
        properties: {
          contactId: { type: 'integer' },
          via: {
            type: 'object',
            properties: {
              email: { type: 'string' },
              phoneNumber: { type: 'string' },
              link: {
                type: 'object',
                required: ['email', 'phoneNumber'],
                properties: { email: { type: 'string' }, phoneNumber: { type: 'string' } },
              },
            },
          },
        },
      },
      example: [
        { contactId: 1 },
        { contactId: 2, via: { phoneNumber: '123456' } },
        { contactId: 3, via: { link: { email: 'lorraine@hillvalley.edu', phoneNumber: '919191' } } },
      ],
    },
  },
} as const

/** A positive id in a path: strings, since path parameters are not coerced. */
export const idParam = { type: 'string', pattern: '^[0-9]{1,15}$', description: 'A contact id.' } as const

export const remainingSchema = {
  type: 'object',
  required: ['identities'],
  properties: {
    identities: {
      type: 'array',
      items: identityViewSchema,
      description: 'The identities that remain where the changed one stood, oldest primary first.',
    },
  },
} as const

export const erasedSchema = {
  type: 'object',
  required: ['erasedContactIds'],
  properties: { erasedContactIds: { type: 'array', items: { type: 'integer' }, example: [1, 2, 3] } },
} as const

export const blockedValueSchema = {
  type: 'object',
  required: ['id', 'kind', 'createdAt'],
  properties: {
    id: { type: 'integer', example: 4 },
    kind: { type: 'string', enum: ['email', 'phoneNumber'], example: 'email' },
    value: { type: 'string', description: 'An exact normalised value (or `pattern`).', example: 'test@test.com' },
    pattern: {
      type: 'string',
      description: 'A regular expression (RE2 syntax) searched in normalised values (or `value`).',
      example: '^0+$',
    },
    createdAt: isoTime,
    builtin: { type: 'boolean', description: 'From the built-in list of common junk (BLOCK_COMMON_JUNK).' },
  },
} as const

export const blockBodySchema = {
  type: 'object',
  required: ['kind'],
  description: 'Exactly one of `value` (normalised as `/identify` normalises it) and `pattern`.',
  properties: {
    kind: { type: 'string', enum: ['email', 'phoneNumber'], example: 'email' },
    value: { type: 'string', example: 'Test@Test.com' },
    pattern: { type: 'string', example: '@example\\.com$' },
  },
  examples: [
    { kind: 'email', value: 'test@test.com' },
    { kind: 'phoneNumber', pattern: '^0+$' },
  ],
} as const

export const unblockedSchema = {
  type: 'object',
  required: ['id', 'kind', 'createdAt', 'identities'],
  properties: {
    ...blockedValueSchema.properties,
    identities: {
      type: 'array',
      items: identityViewSchema,
      description: 'The identities the value joins again, each now one.',
    },
  },
} as const

export const hubsSchema = {
  type: 'object',
  required: ['values', 'identities'],
  properties: {
    values: {
      type: 'array',
      description: 'The values held by the most live contacts, most first.',
      items: {
        type: 'object',
        required: ['kind', 'value', 'contacts', 'blocked'],
        properties: {
          kind: { type: 'string', enum: ['email', 'phoneNumber'] },
          value: { type: 'string' },
          contacts: { type: 'integer' },
          blocked: { type: 'boolean' },
        },
      },
      example: [{ kind: 'email', value: 'test@test.com', contacts: 412, blocked: false }],
    },
    identities: {
      type: 'array',
      description: 'The largest identities, most contacts first.',
      items: {
        type: 'object',
        required: ['primaryContatctId', 'contacts'],
        properties: { primaryContatctId: { type: 'integer' }, contacts: { type: 'integer' } },
      },
      example: [{ primaryContatctId: 17, contacts: 415 }],
    },
  },
} as const

/**
 * A documented error response: the shared `Error` schema with its own description and example.
 *
 * @example
 * response: { 400: errorResponse('The body is invalid.', 'ERR_INVALID_INPUT', 'email must contain exactly one "@"') }
 */
export function errorResponse(description: string, code: ErrorCode, message: string) {
  // The media-type form: next to a bare $ref the example would be dropped from the document.
  return {
    description,
    content: { 'application/json': { schema: { $ref: 'Error#' }, example: errorBody(code, message) } },
  }
}

/** The error responses every route can give. */
export const commonErrorResponses = {
  500: errorResponse(
    'A fault of the service itself, never something the client sent; the message names the request id to look up in the log.',
    'ERR_INTERNAL',
    'the service failed; its log has the details under request id 4f0c2a2e-6a1b-4f7e-9a53-1c1b2d3e4f50',
  ),
  default: errorResponse(
    'Any other error, in the same shape: 404 ERR_NOT_FOUND for a path or method not listed here, and what the ' +
      'HTTP layer refuses before a route is reached (400 ERR_MALFORMED_REQUEST, 408, 417, 431; see docs/errors.md).',
    'ERR_NOT_FOUND',
    'there is no route GET /identify',
  ),
} as const
