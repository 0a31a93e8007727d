/**
 * Regrouping (src/identity/graph.ts `regroup`) and the block list (src/identity/blocklist.ts),
 * pure: what an identity becomes once a contact, a link or a value stops joining it.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type BlockedValue, BlockList, COMMON_JUNK, compilePattern } from '../../src/identity/blocklist.ts'
import type { Contact } from '../../src/identity/contact.ts'
import { components, regroup } from '../../src/identity/graph.ts'

function contact(id: number, email: string | null, phoneNumber: string | null, linkedId: number | null = 1): Contact {
  const primary = linkedId === null || linkedId === id
  return {
    id,
    email,
    phoneNumber,
    linkedId: primary ? null : linkedId,
    linkPrecedence: primary ? 'primary' : 'secondary',
    createdAt: id,
  }
}

let nextEntry = 1
function entry(kind: BlockedValue['kind'], value: string | null, pattern: string | null = null): BlockedValue {
  return { id: nextEntry++, kind, value, pattern, createdAt: 0, source: 'operator' }
}

describe('regroup', () => {
  test('deleting a bridge splits the identity in two, each under its oldest contact', () => {
    // 1 (a, 1) — 2 (b, 1) — 3 (b, 2) — 4 (c, 2): deleting 2 leaves 1 | 3–4.
    const all = [contact(1, 'a', '1', null), contact(2, 'b', '1'), contact(3, 'b', '2'), contact(4, 'c', '2')]
    const { parts, relinks } = regroup(
      all.filter((c) => c.id !== 2),
      [],
    )
    assert.deepEqual(
      parts.map((p) => p.map((c) => c.id)),
      [[1], [3, 4]],
    )
    assert.deepEqual(relinks, [
      { id: 3, linkedId: null },
      { id: 4, linkedId: 3 },
    ])
  })

  test('deleting the primary makes the next oldest the primary', () => {
    const all = [contact(1, 'a', '1', null), contact(2, 'b', '1'), contact(3, 'b', '2')]
    const { parts, relinks } = regroup(all.slice(1), [])
    assert.deepEqual(
      parts.map((p) => p.map((c) => c.id)),
      [[2, 3]],
    )
    assert.deepEqual(relinks, [
      { id: 2, linkedId: null },
      { id: 3, linkedId: 2 },
    ])
  })

  test('a link whose value nobody holds joins nothing; a contact holding it again is joined', () => {
    const link = { email: 'a', phoneNumber: '9' }
    const left = [contact(1, 'a', null, null), contact(3, null, '5', null)]
    assert.equal(components(left, [link]).length, 2, 'the contact holding 9 was deleted')
    const back = [...left, contact(4, 'x', '9', null)]
    const groups = components(back, [link])
    assert.deepEqual(
      groups.map((g) => g.map((c) => c.id)),
      [[1, 4], [3]],
    )
  })

  test('a blocked value joins nothing, nor a link naming it', () => {
    const all = [contact(1, 'junk', '1', null), contact(2, 'junk', '2'), contact(3, 'b', '3')]
    const links = [{ email: 'junk', phoneNumber: '3' }]
    const list = new BlockList([entry('email', 'junk')])
    const { parts } = regroup(all, links, list)
    assert.deepEqual(
      parts.map((p) => p.map((c) => c.id)),
      [[1], [2], [3]],
    )
  })

  test('unblocking re-merges several identities at once', () => {
    const held = [
      contact(1, 'junk', '1', null),
      contact(2, 'junk', '2', null),
      contact(5, 'junk', '5', null),
      contact(7, 'x', '7', null),
    ]
    const links = [{ email: 'x', phoneNumber: '5' }]
    const blocked = new BlockList([entry('email', 'junk')])
    assert.equal(components(held, links, blocked).length, 3, 'apart while blocked (5 and 7 joined by the link)')
    const groups = components(held, links, BlockList.EMPTY)
    assert.deepEqual(
      groups.map((g) => g.map((c) => c.id)),
      [[1, 2, 5, 7]],
    )
  })
})

describe('block list', () => {
  test('exact values and patterns over normalised values', () => {
    const list = new BlockList([
      entry('email', 'test@test.com'),
      entry('phoneNumber', null, '^0+$'),
      entry('email', null, '@example\\.com$'),
    ])
    assert.ok(list.blocks('email', 'test@test.com'))
    assert.ok(list.blocks('email', 'anyone@example.com'))
    assert.ok(!list.blocks('email', 'anyone@example.community'))
    assert.ok(list.blocks('phoneNumber', '0000000'))
    assert.ok(!list.blocks('phoneNumber', '1000'))
    assert.ok(!list.blocks('phoneNumber', 'test@test.com'), 'a kind is only matched against its own values')
  })

  test('a pattern that cannot run in linear time is refused with a clear error', () => {
    for (const bad of ['(a)\\1', '(?=a)b', '(?<!x)y', '', '('.repeat(1), 'a'.repeat(501)]) {
      assert.throws(
        () => compilePattern(bad),
        (err: { code?: string }) => err.code === 'ERR_INVALID_INPUT',
        JSON.stringify(bad),
      )
    }
  })

  test('a pathological pattern against a long value neither stalls nor crashes', () => {
    // (a+)+$ backtracks exponentially in a backtracking engine; RE2 runs it in linear time.
    const list = new BlockList([entry('email', null, '(a+)+$'), entry('email', null, '^(a|a)*b$')])
    const value = `${'a'.repeat(50_000)}!@x.io`
    const started = performance.now()
    assert.equal(list.blocks('email', value), false)
    assert.equal(list.blocks('email', `${'a'.repeat(240)}@x.io`), false)
    // A generous bound: a backtracking engine would take longer than the age of the universe.
    assert.ok(performance.now() - started < 5000, 'the match finished')
  })

  test('the built-in list of common junk compiles and keeps the contract’s own examples', () => {
    const list = new BlockList(COMMON_JUNK.map((j) => entry(j.kind, j.value ?? null, j.pattern ?? null)))
    for (const junk of ['test@test.com', 'null@gmail.com', 'someone@example.com', 'a@shop.test']) {
      assert.ok(list.blocks('email', junk), junk)
    }
    for (const junk of ['0000000000', '1111111', '1234567890', '+9999999999']) {
      assert.ok(list.blocks('phoneNumber', junk), junk)
    }
    for (const fine of ['lorraine@hillvalley.edu', 'mcfly@hillvalley.edu', 'doc@gmail.com']) {
      assert.ok(!list.blocks('email', fine), fine)
    }
    for (const fine of ['123456', '919191', '+15550100199']) assert.ok(!list.blocks('phoneNumber', fine), fine)
  })
})
