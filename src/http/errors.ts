/**
 * One error handler for every route: whatever went wrong becomes `{ statusCode, code, error, message }`
 * with a code from `src/errors.ts`. Client mistakes get a message that says how to fix them; a fault
 * of our own is logged with its stack and answered with a bare `ERR_INTERNAL` and the request id.
 */
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, type ErrorCode, errorCodes } from '../errors.ts'

interface ErrorBody {
  statusCode: number
  code: ErrorCode
  error: string
  message: string
}

/** Builds the JSON error body for a code. */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
  const statusCode = errorCodes[code].status
  return {
    statusCode,
    code,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message,
  }
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const body = classify(error, request)
  request.errorCode = body.code
  // Shed requests are not faults, and a log line each would add work exactly when there is too much.
  if (body.statusCode >= 500 && body.code !== 'ERR_OVERLOADED') {
    request.log.error({ err: error, code: body.code }, 'request failed')
  }
  sendError(reply, body)
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0]
  request.errorCode = 'ERR_NOT_FOUND'
  sendError(reply, errorBody('ERR_NOT_FOUND', `there is no route ${request.method} ${path}`))
}

// The code each error answer carried, for its request log line (the body itself is never logged).
const sentCodes = new WeakMap<FastifyReply, ErrorCode>()

function sendError(reply: FastifyReply, body: ErrorBody): void {
  sentCodes.set(reply, body.code)
  void reply.code(body.statusCode).send(body)
}

/** The error code the reply was answered with, if it was an error answer. */
export function sentErrorCode(reply: FastifyReply): ErrorCode | undefined {
  return sentCodes.get(reply)
}

function classify(error: FastifyError, request: FastifyRequest): ErrorBody {
  if (error instanceof AppError) return errorBody(error.code, error.message)
  if (error.validation) return errorBody('ERR_INVALID_INPUT', error.message)
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errorBody(
        'ERR_PAYLOAD_TOO_LARGE',
        `the body is larger than the limit of ${request.routeOptions.bodyLimit} bytes`,
      )
    case 'FST_ERR_BAD_URL':
      return errorBody('ERR_MALFORMED_REQUEST', 'the path is not a valid URL: a "%" must start an escape such as %20')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errorBody(
        'ERR_UNSUPPORTED_MEDIA_TYPE',
        `send the body as JSON with "Content-Type: application/json" (got ${
          request.headers['content-type'] === undefined ? 'no Content-Type' : `"${request.headers['content-type']}"`
        })`,
      )
  }
  const status = error.statusCode ?? 500
  if (status === 413) return errorBody('ERR_PAYLOAD_TOO_LARGE', error.message)
  if (status === 415) return errorBody('ERR_UNSUPPORTED_MEDIA_TYPE', error.message)
  if (status === 404) return errorBody('ERR_NOT_FOUND', error.message)
  if (status >= 400 && status < 500) return errorBody('ERR_INVALID_INPUT', error.message)
  return errorBody('ERR_INTERNAL', `the service failed; its log has the details under request id ${request.id}`)
}

interface AjvError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

/**
 * Turns the first schema violation into a sentence: `email must be a string or null`.
 */
export function schemaErrorFormatter(errors: AjvError[], dataVar: string): Error {
  const first = errors[0]
  if (first === undefined) return new Error(`${dataVar} is invalid`)
  const field = first.instancePath === '' ? 'the body' : first.instancePath.slice(1).replaceAll('/', '.')
  if (first.keyword === 'type') {
    const types = ([] as unknown[]).concat(first.params.type).map((t) => (t === 'null' ? 'null' : article(String(t))))
    const listed = types.length > 1 ? `${types.slice(0, -1).join(', ')} or ${types.at(-1)}` : types[0]
    return new Error(`${field} must be ${listed}`)
  }
  return new Error(`${field} ${first.message ?? 'is invalid'}`)
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`
}
