/**
 * The optional E.164 normalisation (PHONE_DEFAULT_COUNTRY): numbers valid for the country become
 * one E.164 value however they are written; anything else keeps the plain SPEC §3 form.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { normalizeIdentifyInput, normalizePhoneNumber } from '../../src/identity/normalize.ts'

describe('PHONE_DEFAULT_COUNTRY', () => {
  const us = { defaultCountry: 'US' } as const

  test('valid national and international spellings become one E.164 number', () => {
    for (const raw of ['202-456-1111', '(202) 456 1111', '+1 202.456.1111', '12024561111', 2024561111]) {
      assert.equal(normalizePhoneNumber(raw, us), '+12024561111', String(raw))
    }
    assert.equal(normalizePhoneNumber('98765 43210', { defaultCountry: 'IN' }), '+919876543210')
    assert.equal(normalizePhoneNumber('+91 98765 43210', us), '+919876543210', 'an explicit + code wins')
  })

  test("numbers that are not valid there keep the plain form, so the task's short ones still work", () => {
    assert.equal(normalizePhoneNumber('123456', us), '123456')
    assert.equal(normalizePhoneNumber('(555) 010-0199', us), '5550100199')
    assert.deepEqual(normalizeIdentifyInput({ phoneNumber: 123456 }, us), { email: null, phoneNumber: '123456' })
  })

  test('off by default: nothing is rewritten', () => {
    assert.equal(normalizePhoneNumber('202-456-1111'), '2024561111')
    assert.equal(loadConfig({}).phoneDefaultCountry, null)
  })

  test('the configuration takes a two-letter code in any case and refuses others', () => {
    assert.equal(loadConfig({ PHONE_DEFAULT_COUNTRY: 'in' }).phoneDefaultCountry, 'IN')
    assert.throws(() => loadConfig({ PHONE_DEFAULT_COUNTRY: 'XX' }), ConfigError)
    assert.throws(() => loadConfig({ PHONE_DEFAULT_COUNTRY: 'USA' }), /PHONE_DEFAULT_COUNTRY/)
  })
})
