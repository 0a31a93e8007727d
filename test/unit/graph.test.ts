/**
 * The identity graph (src/identity/graph.ts): components under shared values and links, the
 * shortest chain between two contacts (checked against an independent breadth-first search on
 * random identities), and the links that reconstruct an identity stored before links existed.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { Contact } from '../../src/identity/contact.ts'
import { components, missingLinks, type PathStep, shortestPath } from '../../src/identity/graph.ts'

function contact(id: number, email: string | null, phoneNumber: string | null): Contact {
  return { id, email, phoneNumber, linkedId: null, linkPrecedence: 'primary', createdAt: id }
}

type Pair = { email: string; phoneNumber: string }

/** Whether two contacts are one step apart: a shared value, or a link naming a value of each. */
function adjacent(a: Contact, b: Contact, links: readonly Pair[]): boolean {
  if (a.email !== null && a.email === b.email) return true
  if (a.phoneNumber !== null && a.phoneNumber === b.phoneNumber) return true
  return links.some(
    (l) =>
      (l.email === a.email && l.phoneNumber === b.phoneNumber) ||
      (l.email === b.email && l.phoneNumber === a.phoneNumber),
  )
}

/** Distances from `from` by a plain BFS over the adjacency above (quadratic, obviously right). */
function distances(contacts: readonly Contact[], links: readonly Pair[], from: Contact): Map<number, number> {
  const dist = new Map([[from.id, 0]])
  const queue = [from]
  while (queue.length > 0) {
    const c = queue.shift() as Contact
    for (const n of contacts) {
      if (!dist.has(n.id) && adjacent(c, n, links)) {
        dist.set(n.id, (dist.get(c.id) as number) + 1)
        queue.push(n)
      }
    }
  }
  return dist
}

/** Each step must share what it says it shares with the step before. */
function assertValidPath(path: readonly PathStep[], contacts: readonly Contact[]): void {
  const byId = new Map(contacts.map((c) => [c.id, c]))
  for (let i = 1; i < path.length; i++) {
    const prev = byId.get((path[i - 1] as PathStep).contactId) as Contact
    const step = path[i] as PathStep
    const here = byId.get(step.contactId) as Contact
    const via = step.via as NonNullable<PathStep['via']>
    if ('email' in via)
      assert.ok(prev.email === via.email && here.email === via.email, 'an email step shares the email')
    else if ('phoneNumber' in via)
      assert.ok(prev.phoneNumber === via.phoneNumber && here.phoneNumber === via.phoneNumber)
    else {
      const { email, phoneNumber } = via.link
      assert.ok(
        (prev.email === email && here.phoneNumber === phoneNumber) ||
          (prev.phoneNumber === phoneNumber && here.email === email),
        'a link step names a value of each side',
      )
    }
  }
}

const emails = ['a@x', 'b@x', 'c@x', 'd@x', 'e@x']
const phones = ['1', '2', '3', '4', '5']
const graphArb = fc
  .record({
    values: fc.array(
      fc.record({ email: fc.option(fc.constantFrom(...emails)), phone: fc.option(fc.constantFrom(...phones)) }),
      { minLength: 1, maxLength: 14 },
    ),
    links: fc.array(fc.record({ email: fc.constantFrom(...emails), phoneNumber: fc.constantFrom(...phones) }), {
      maxLength: 4,
    }),
  })
  .map(({ values, links }) => ({
    contacts: values
      .filter((v) => v.email !== null || v.phone !== null)
      .map((v, i) => contact(i + 1, v.email, v.phone)),
    links,
  }))
  .filter((g) => g.contacts.length > 0)

describe('identity graph', () => {
  test('shortestPath is as short as a plain BFS finds, and every step is real', () => {
    fc.assert(
      fc.property(graphArb, fc.nat(), fc.nat(), ({ contacts, links }, i, j) => {
        const from = contacts[i % contacts.length] as Contact
        const to = contacts[j % contacts.length] as Contact
        const expected = distances(contacts, links, from).get(to.id)
        const path = shortestPath(contacts, links, from.id, to.id)
        if (expected === undefined) {
          assert.equal(path, null)
          return
        }
        assert.ok(path !== null)
        assert.equal(path.length - 1, expected, 'steps')
        assert.equal(path[0]?.contactId, from.id)
        assert.equal(path[0]?.via, undefined)
        assert.equal(path.at(-1)?.contactId, to.id)
        assertValidPath(path, contacts)
      }),
      { numRuns: 500 },
    )
  })

  test('components are exactly the sets a BFS reaches, oldest first', () => {
    fc.assert(
      fc.property(graphArb, ({ contacts, links }) => {
        const groups = components(contacts, links)
        assert.equal(groups.flat().length, contacts.length)
        for (const group of groups) {
          const reach = distances(contacts, links, group[0] as Contact)
          assert.deepEqual(
            group.map((c) => c.id),
            [...reach.keys()].sort((a, b) => a - b),
          )
        }
      }),
      { numRuns: 300 },
    )
  })

  test('a link joins nothing when no contact holds one of its values', () => {
    const contacts = [contact(1, 'a@x', null), contact(2, null, '9')]
    assert.equal(components(contacts, [{ email: 'a@x', phoneNumber: '5' }]).length, 2)
    assert.equal(components(contacts, [{ email: 'a@x', phoneNumber: '9' }]).length, 1)
  })

  test('missingLinks joins every part an email–phone pair can reach, and only those', () => {
    // Parts: {1, 2} (a@x, 1), {3} (b@x, 2), {4} (c@x only), {5} (phone 3 only).
    const contacts = [
      contact(1, 'a@x', '1'),
      contact(2, 'a@x', null),
      contact(3, 'b@x', '2'),
      contact(4, 'c@x', null),
      contact(5, null, '3'),
    ]
    const links = missingLinks(contacts)
    assert.equal(components(contacts, links).length, 1)
    assert.equal(links.length, 3)
    // Two emails alone cannot have been joined by any request: left apart.
    assert.deepEqual(missingLinks([contact(1, 'a@x', null), contact(2, 'b@x', null)]), [])
  })
})
