/**
 * The error-code table. Every failure the service reports carries one of these stable codes;
 * clients and tests match on the code, never on the message. `docs/errors.md` documents each.
 */

export const errorCodes = {
  ERR_INVALID_INPUT: {
    status: 400,
    meaning: 'The request body or one of its values is invalid.',
  },
  ERR_UNAUTHORIZED: {
    status: 401,
    meaning: 'The route needs an API key (Authorization: Bearer) and none, or an unknown one, was sent.',
  },
  ERR_OPERATOR_API_DISABLED: {
    status: 403,
    meaning: 'The operator API is off because ADMIN_API_KEYS is not set.',
  },
  ERR_NOT_FOUND: { status: 404, meaning: 'No such route or resource.' },
  ERR_NOT_SAME_IDENTITY: {
    status: 409,
    meaning: 'The two contacts belong to different identities, so no chain joins them.',
  },
  ERR_BLOCKED_VALUE: {
    status: 422,
    meaning: 'Every value of the request is on the block list, so there is nothing to identify.',
  },
  ERR_MALFORMED_REQUEST: {
    status: 400,
    meaning: 'The HTTP request itself is not valid HTTP/1.1, or its framing is ambiguous.',
  },
  ERR_REQUEST_TIMEOUT: {
    status: 408,
    meaning: 'The request did not arrive in time.',
  },
  ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    meaning: 'The request body is larger than the configured limit.',
  },
  ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning: 'The request body is not JSON.',
  },
  ERR_RATE_LIMITED: {
    status: 429,
    meaning: 'This API key or client address sent more requests this minute than RATE_LIMIT_PER_MINUTE allows.',
  },
  ERR_OVERLOADED: {
    status: 503,
    meaning: 'The process is past one of its OVERLOAD_* bounds and sheds requests until it recovers.',
  },
  ERR_EXPECTATION_FAILED: {
    status: 417,
    meaning: 'The request carries an Expect header other than 100-continue.',
  },
  ERR_HEADERS_TOO_LARGE: {
    status: 431,
    meaning: 'The request headers are larger than the server accepts.',
  },
  ERR_STORAGE_UNAVAILABLE: {
    status: 503,
    meaning: 'The database cannot be reached or is not answering in time.',
  },
  ERR_INTERNAL: {
    status: 500,
    meaning: 'A fault of the service itself; the details are in its log.',
  },
} as const

export type ErrorCode = keyof typeof errorCodes

/**
 * A failure with a stable code. The HTTP layer turns it into
 * `{ statusCode, code, error, message }`; the CLI prints `code: message`.
 *
 * @example
 * throw new AppError('ERR_INVALID_INPUT', 'email must contain exactly one "@"')
 */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'AppError'
    this.code = code
    this.statusCode = errorCodes[code].status
  }
}
