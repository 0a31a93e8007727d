/**
 * Normalisation (SPEC §3): what counts as an email or a phone number, what is blank, what is refused.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AppError } from '../../src/errors.ts'
import { normalizeEmail, normalizeIdentifyInput, normalizePhoneNumber } from '../../src/identity/normalize.ts'

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, 'an AppError')
    assert.equal(err.code, 'ERR_INVALID_INPUT')
    assert.match(err.message, pattern)
    return true
  })
}

describe('normalizeEmail', () => {
  test('trims and lower-cases', () => {
    assert.equal(normalizeEmail('  Doc.Brown@HillValley.EDU \t'), 'doc.brown@hillvalley.edu')
  })
  test('blank, empty, null and undefined are absent', () => {
    for (const raw of ['', '   ', '\t\n', null, undefined]) assert.equal(normalizeEmail(raw), null)
  })
  test('accepts the shortest address the contract allows', () => {
    assert.equal(normalizeEmail('a@b'), 'a@b')
  })
  test('accepts exactly 254 characters and refuses 255', () => {
    const at254 = `${'a'.repeat(250)}@x.io`
    assert.equal(at254.length, 255)
    assert.equal(normalizeEmail(at254.slice(1)), at254.slice(1))
    refused(() => normalizeEmail(at254), /255 characters.*254/)
  })
  test('measures the length after trimming', () => {
    const padded = `   ${'a'.repeat(249)}@x.io   `
    assert.equal(normalizeEmail(padded), `${'a'.repeat(249)}@x.io`)
  })
  test('refuses what does not look like an address', () => {
    refused(() => normalizeEmail('no-at-sign'), /exactly one "@"/)
    refused(() => normalizeEmail('two@@x.io'), /exactly one "@"/)
    refused(() => normalizeEmail('a@b@c'), /exactly one "@"/)
    refused(() => normalizeEmail('@x.io'), /nothing before/)
    refused(() => normalizeEmail('doc@'), /no domain/)
    refused(() => normalizeEmail('doc brown@x.io'), /spaces/)
  })
  test('refuses text that is not well-formed Unicode (a lone surrogate)', () => {
    // Both drivers would store any lone surrogate as U+FFFD: two different inputs, one stored value.
    refused(() => normalizeEmail('\ud800@x.test'), /not well-formed Unicode/)
    refused(() => normalizeEmail('doc@x\udc00.test'), /not well-formed Unicode/)
    assert.equal(normalizeEmail('\u{1F600}@x.test'), '\u{1F600}@x.test', 'a surrogate pair is one character')
  })
  test('refuses non-strings', () => {
    refused(() => normalizeEmail(42), /string or null, not a number/)
    refused(() => normalizeEmail(true), /not a boolean/)
    refused(() => normalizeEmail(['a@b']), /not an array/)
    refused(() => normalizeEmail({}), /not an object/)
  })
})

describe('normalizePhoneNumber', () => {
  test('removes spaces, dashes, dots and parentheses and keeps a leading +', () => {
    assert.equal(normalizePhoneNumber('+1 (555) 010-0199'), '+15550100199')
    assert.equal(normalizePhoneNumber(' 555.010.0199 '), '5550100199')
    assert.equal(normalizePhoneNumber('123456'), '123456')
  })
  test('keeps leading zeros of strings', () => {
    assert.equal(normalizePhoneNumber('007'), '007')
  })
  test('a JSON number becomes its decimal string', () => {
    assert.equal(normalizePhoneNumber(123456), '123456')
    assert.equal(normalizePhoneNumber(0), '0')
    assert.equal(normalizePhoneNumber(Number.MAX_SAFE_INTEGER), '9007199254740991')
  })
  test('refuses numbers that cannot be held exactly', () => {
    refused(() => normalizePhoneNumber(2 ** 53), /too large/)
    refused(() => normalizePhoneNumber(1e25), /too large/)
    refused(() => normalizePhoneNumber(-5), /non-negative whole number/)
    refused(() => normalizePhoneNumber(12.5), /non-negative whole number/)
    refused(() => normalizePhoneNumber(Number.NaN), /non-negative whole number/)
  })
  test('blank strings are absent', () => {
    for (const raw of ['', '  ', null, undefined]) assert.equal(normalizePhoneNumber(raw), null)
  })
  test('at most 20 digits, the + not counted', () => {
    assert.equal(normalizePhoneNumber(`+${'9'.repeat(20)}`), `+${'9'.repeat(20)}`)
    refused(() => normalizePhoneNumber('1'.repeat(21)), /21 digits.*20/)
  })
  test('refuses letters, inner plus signs and separators alone', () => {
    refused(() => normalizePhoneNumber('555-CALL-NOW'), /only digits/)
    refused(() => normalizePhoneNumber('12+34'), /only digits/)
    refused(() => normalizePhoneNumber('++1'), /only digits/)
    refused(() => normalizePhoneNumber('+'), /only digits/)
    refused(() => normalizePhoneNumber('( - )'), /only digits/)
    refused(() => normalizePhoneNumber('１２３'), /only digits/)
  })
  test('refuses text that is not well-formed Unicode', () => {
    refused(() => normalizePhoneNumber('123\ud800'), /not well-formed Unicode/)
  })
  test('refuses other types', () => {
    refused(() => normalizePhoneNumber(true), /string, a number or null, not a boolean/)
    refused(() => normalizePhoneNumber({ n: 1 }), /not an object/)
  })
})

describe('normalizeIdentifyInput', () => {
  test('normalises both fields and ignores unknown keys', () => {
    assert.deepEqual(normalizeIdentifyInput({ email: ' A@B.io ', phoneNumber: 12, extra: 'x' }), {
      email: 'a@b.io',
      phoneNumber: '12',
    })
  })
  test('one field is enough', () => {
    assert.deepEqual(normalizeIdentifyInput({ phoneNumber: '1' }), { email: null, phoneNumber: '1' })
    assert.deepEqual(normalizeIdentifyInput({ email: 'a@b', phoneNumber: '  ' }), { email: 'a@b', phoneNumber: null })
  })
  test('refuses a body with neither', () => {
    refused(() => normalizeIdentifyInput({}), /neither was given/)
    refused(() => normalizeIdentifyInput({ email: ' ', phoneNumber: null }), /neither was given/)
  })
  test('refuses bodies that are not objects', () => {
    for (const body of [null, [], 'a@b', 3]) refused(() => normalizeIdentifyInput(body), /JSON object/)
  })
})
