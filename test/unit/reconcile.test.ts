/**
 * The pure rules (SPEC §3 rules 1–3) and the answer's ordering, without any storage.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Contact } from '../../src/identity/contact.ts'
import { applyDecision, decide, toIdentityView } from '../../src/identity/reconcile.ts'

function contact(
  id: number,
  email: string | null,
  phoneNumber: string | null,
  linkedId: number | null = null,
): Contact {
  return {
    id,
    email,
    phoneNumber,
    linkedId,
    linkPrecedence: linkedId === null ? 'primary' : 'secondary',
    createdAt: id,
  }
}

describe('decide', () => {
  test('rule 1: no match creates a primary', () => {
    const d = decide({ email: 'a@x', phoneNumber: '1' }, [])
    assert.deepEqual(d, {
      primaryId: null,
      demotedPrimaryIds: [],
      create: { email: 'a@x', phoneNumber: '1', linkedId: null, linkPrecedence: 'primary', notBefore: 0 },
    })
  })

  test('rule 3: a new phone for a known email creates a secondary of the primary', () => {
    const touched = [contact(1, 'a@x', '1'), contact(2, 'b@x', '1', 1)]
    const d = decide({ email: 'b@x', phoneNumber: '2' }, touched)
    assert.equal(d.primaryId, 1)
    assert.deepEqual(d.demotedPrimaryIds, [])
    assert.deepEqual(d.create, {
      email: 'b@x',
      phoneNumber: '2',
      linkedId: 1,
      linkPrecedence: 'secondary',
      notBefore: 2,
    })
  })

  test('nothing new creates nothing', () => {
    const touched = [contact(1, 'a@x', '1'), contact(2, 'b@x', '1', 1)]
    assert.equal(decide({ email: 'b@x', phoneNumber: '1' }, touched).create, null)
    assert.equal(decide({ email: 'a@x', phoneNumber: null }, touched).create, null)
    // Both values known, in different contacts of one identity: still nothing new.
    assert.equal(decide({ email: 'b@x', phoneNumber: '1' }, touched).create, null)
  })

  test('rule 2: the oldest primary survives, others are demoted', () => {
    const touched = [contact(3, 'c@x', '3'), contact(1, 'a@x', '1'), contact(5, 'e@x', '3', 3), contact(2, 'b@x', '2')]
    const d = decide({ email: 'a@x', phoneNumber: '3' }, touched)
    assert.equal(d.primaryId, 1)
    assert.deepEqual([...d.demotedPrimaryIds].sort(), [2, 3])
    assert.equal(d.create, null)
  })

  test('age is createdAt first, id second', () => {
    const older = { ...contact(9, 'a@x', null), createdAt: 1 }
    const younger = { ...contact(2, null, '2'), createdAt: 5 }
    assert.equal(decide({ email: 'a@x', phoneNumber: '2' }, [younger, older]).primaryId, 9)
  })

  test('a new secondary may not be stamped older than any contact of its identity', () => {
    const primary = { ...contact(1, 'a@x', null), createdAt: 500 }
    const newest = { ...contact(2, 'b@x', '7', 1), createdAt: 900 }
    const d = decide({ email: 'a@x', phoneNumber: '8' }, [primary, newest])
    assert.equal(d.create?.notBefore, 900)
  })
})

describe('applyDecision and toIdentityView', () => {
  test('a merge relinks the demoted primary and its secondaries to the survivor (I1)', () => {
    const touched = [contact(1, 'a@x', '1'), contact(2, 'b@x', '2'), contact(3, 'c@x', '2', 2)]
    const d = decide({ email: 'a@x', phoneNumber: '2' }, touched)
    const after = applyDecision(touched, d, null)
    assert.deepEqual(
      after.map((c) => [c.id, c.linkedId, c.linkPrecedence]),
      [
        [1, null, 'primary'],
        [2, 1, 'secondary'],
        [3, 1, 'secondary'],
      ],
    )
  })

  test("the primary's values come first, then creation order, without repeats or nulls", () => {
    const contacts = [
      contact(7, null, '555', 2),
      contact(2, null, '111'),
      contact(4, 'z@x', '111', 2),
      contact(9, 'a@x', null, 2),
      contact(5, 'z@x', '999', 2),
    ]
    assert.deepEqual(toIdentityView(contacts), {
      primaryContatctId: 2,
      emails: ['z@x', 'a@x'],
      phoneNumbers: ['111', '999', '555'],
      secondaryContactIds: [4, 5, 7, 9],
    })
  })

  test('an identity without a primary is a programming error', () => {
    assert.throws(() => toIdentityView([contact(2, 'a@x', null, 1)]), TypeError)
  })
})
