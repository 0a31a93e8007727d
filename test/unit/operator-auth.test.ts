/**
 * The key comparison behind the operator and client guards: it finds the right key, compares every
 * configured key whatever the position of the match (no early exit), and compares equal-length
 * digests, so keys of any length are safe to compare.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { compareKeys, digest } from '../../src/http/operator-auth.ts'

describe('compareKeys', () => {
  const keys = ['first-key-0123456789', 'second-key-0123456789', 'third-key-0123456789-and-longer']
  const digests = keys.map(digest)

  test('finds the matching key, whichever position it has', () => {
    for (const [i, key] of keys.entries()) {
      assert.deepEqual(compareKeys(digest(key), digests), { index: i, compared: keys.length })
    }
  })

  test('compares every key even when the first one matches, and when none does', () => {
    assert.equal(compareKeys(digest(keys[0] as string), digests).compared, keys.length)
    assert.deepEqual(compareKeys(digest('not-a-key-at-all-000000'), digests), { index: -1, compared: keys.length })
  })

  test('candidates of any length compare without throwing (both sides are 32-byte digests)', () => {
    for (const candidate of ['', 'x', 'first-key-012345678', 'first-key-0123456789x', 'é'.repeat(5000)]) {
      assert.equal(compareKeys(digest(candidate), digests).index, -1, JSON.stringify(candidate.slice(0, 30)))
    }
    assert.equal(digest('anything').length, 32)
  })

  test('a prefix of a key is not the key', () => {
    assert.equal(compareKeys(digest('second-key'), digests).index, -1)
  })

  test('no keys configured: nothing matches', () => {
    assert.deepEqual(compareKeys(digest('first-key-0123456789'), []), { index: -1, compared: 0 })
  })
})
