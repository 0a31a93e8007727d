/**
 * Normalisation of `/identify` input (SPEC §3): the one place that decides what an email or a
 * phone number is. Pure; throws `AppError('ERR_INVALID_INPUT')` with a message a person can act on.
 */
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js'
import { AppError } from '../errors.ts'

/** A request after normalisation: at least one of the two is non-null. */
export interface IdentifyInput {
  readonly email: string | null
  readonly phoneNumber: string | null
}

/** Options shared by the HTTP route and the importer, so both store the same values. */
export interface NormalizeOptions {
  /**
   * PHONE_DEFAULT_COUNTRY: when set, a number that is valid for that country (or carries its own
   * `+` country code) is stored in E.164 form, so `(555) 010-0199` and `+1 555 010 0199` are one
   * number. Anything else — such as the task's own short `123456` — keeps the plain form.
   */
  readonly defaultCountry?: CountryCode | null
}

export const MAX_EMAIL_LENGTH = 254
export const MAX_PHONE_DIGITS = 20

const PHONE_SEPARATORS = /[\s\-.()]/g
const PHONE_SHAPE = /^\+?\d+$/
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}]/u

/**
 * Trims and lower-cases an email; blank means absent.
 *
 * @example
 * normalizeEmail('  Doc@HillValley.edu ') // 'doc@hillvalley.edu'
 * normalizeEmail('   ')                  // null
 */
export function normalizeEmail(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null
  if (typeof raw !== 'string') {
    throw new AppError('ERR_INVALID_INPUT', `email must be a string or null, not ${describe(raw)}`)
  }
  const email = raw.trim().toLowerCase()
  if (email === '') return null
  refuseIllFormed('email', email)
  if (email.length > MAX_EMAIL_LENGTH) {
    throw new AppError(
      'ERR_INVALID_INPUT',
      `email is ${email.length} characters long; at most ${MAX_EMAIL_LENGTH} are allowed`,
    )
  }
  const at = email.indexOf('@')
  if (at === -1 || email.indexOf('@', at + 1) !== -1) {
    throw new AppError('ERR_INVALID_INPUT', 'email must contain exactly one "@"')
  }
  if (at === 0) throw new AppError('ERR_INVALID_INPUT', 'email has nothing before the "@"')
  if (at === email.length - 1) throw new AppError('ERR_INVALID_INPUT', 'email has no domain after the "@"')
  if (WHITESPACE_OR_CONTROL.test(email)) {
    throw new AppError('ERR_INVALID_INPUT', 'email must not contain spaces or control characters')
  }
  return email
}

/**
 * Reduces a phone number to an optional leading `+` and digits; blank means absent.
 * A JSON number is accepted only when it is a non-negative integer that JavaScript holds exactly.
 *
 * @example
 * normalizePhoneNumber('+1 (555) 010-0199') // '+15550100199'
 * normalizePhoneNumber(123456)              // '123456'
 */
export function normalizePhoneNumber(raw: unknown, options: NormalizeOptions = {}): string | null {
  if (raw === undefined || raw === null) return null
  let text: string
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw) || !Number.isInteger(raw) || raw < 0) {
      throw new AppError(
        'ERR_INVALID_INPUT',
        'phoneNumber given as a JSON number must be a non-negative whole number; send it as a string',
      )
    }
    if (!Number.isSafeInteger(raw)) {
      throw new AppError(
        'ERR_INVALID_INPUT',
        'phoneNumber is too large to be read exactly as a JSON number (over 2^53 - 1); send it as a string',
      )
    }
    text = String(raw)
  } else if (typeof raw === 'string') {
    if (raw.trim() === '') return null
    refuseIllFormed('phoneNumber', raw)
    text = raw.replace(PHONE_SEPARATORS, '')
  } else {
    throw new AppError('ERR_INVALID_INPUT', `phoneNumber must be a string, a number or null, not ${describe(raw)}`)
  }
  if (!PHONE_SHAPE.test(text)) {
    throw new AppError(
      'ERR_INVALID_INPUT',
      'phoneNumber may hold only digits, an optional leading "+", and spaces, dashes, dots or parentheses',
    )
  }
  const digits = text.startsWith('+') ? text.length - 1 : text.length
  if (digits > MAX_PHONE_DIGITS) {
    throw new AppError('ERR_INVALID_INPUT', `phoneNumber has ${digits} digits; at most ${MAX_PHONE_DIGITS} are allowed`)
  }
  if (options.defaultCountry) {
    const parsed = parsePhoneNumberFromString(text, options.defaultCountry)
    if (parsed?.isValid()) return parsed.number
  }
  return text
}

/**
 * Normalises a whole `/identify` body. Unknown keys are ignored.
 *
 * @example
 * normalizeIdentifyInput({ email: 'A@b.io', phoneNumber: 123 }) // { email: 'a@b.io', phoneNumber: '123' }
 */
export function normalizeIdentifyInput(body: unknown, options: NormalizeOptions = {}): IdentifyInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('ERR_INVALID_INPUT', 'the body must be a JSON object such as {"email":"…","phoneNumber":"…"}')
  }
  const record = body as Record<string, unknown>
  const email = normalizeEmail(record.email)
  const phoneNumber = normalizePhoneNumber(record.phoneNumber, options)
  if (email === null && phoneNumber === null) {
    throw new AppError('ERR_INVALID_INPUT', 'provide an email, a phoneNumber, or both; neither was given')
  }
  return { email, phoneNumber }
}

/**
 * A lone surrogate (`"\\ud800"` in JSON) is not a character: both drivers would store it as U+FFFD,
 * so two different inputs would become one stored value the indexes then disagree about.
 */
function refuseIllFormed(field: string, value: string): void {
  if (!value.isWellFormed()) {
    throw new AppError(
      'ERR_INVALID_INPUT',
      `${field} is not well-formed Unicode (it holds a lone surrogate such as \\ud800); send UTF-8 text`,
    )
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}
