/**
 * The console's pure logic (web/console/js/model.js), run under Node: what a search entry asks
 * for, the graph elements of one identity and of the parts of a split, which drawn edges an
 * explain path walks, and the history sentences.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { buildElements, classifyQuery, describeEvent, type Identity, pathElements } from '../../web/console/js/model.js'

const at = (n: number) => `2026-11-30T12:00:0${n}.000Z`
const contact = (id: number, email: string | null, phoneNumber: string | null, primary: number | null) => ({
  id,
  email,
  phoneNumber,
  linkedId: primary,
  linkPrecedence: primary === null ? ('primary' as const) : ('secondary' as const),
  createdAt: at(id),
  updatedAt: at(id),
})
const view = (primary: number, secondaries: number[]) => ({
  primaryContatctId: primary,
  emails: [],
  phoneNumbers: [],
  secondaryContactIds: secondaries,
})
const nothingBlocked = () => false

/** Lorraine —1— Marty —b— Marty —2— George, and a link george ↔ 9 to Doc. */
const chain: Identity = {
  contact: view(1, [2, 3, 4, 5]),
  contacts: [
    contact(1, 'a@x.io', '1', null),
    contact(2, 'b@x.io', '1', 1),
    contact(3, 'b@x.io', '2', 1),
    contact(4, 'g@x.io', '2', 1),
    contact(5, 'd@x.io', '9', 1),
  ],
  links: [{ id: 7, email: 'g@x.io', phoneNumber: '9', createdAt: at(6) }],
}

const edgesOf = (elements: ReturnType<typeof buildElements>) =>
  elements
    .filter((e) => e.group === 'edges')
    .map((e) => `${e.data.kind} ${e.data.source}-${e.data.target}${e.data.blocked ? ' blocked' : ''}`)
    .sort()

describe('console model', () => {
  test('classifyQuery: email, #id, bare digits (both), anything else a phone number for the server', () => {
    assert.deepEqual(classifyQuery('  Doc@X.io '), { kind: 'email', value: 'Doc@X.io' })
    assert.deepEqual(classifyQuery('#12'), { kind: 'id', value: '12' })
    assert.deepEqual(classifyQuery('id: 12'), { kind: 'id', value: '12' })
    assert.deepEqual(classifyQuery('123456'), { kind: 'digits', value: '123456' })
    assert.deepEqual(classifyQuery('(555) 010-1'), { kind: 'phoneNumber', value: '(555) 010-1' })
    assert.deepEqual(classifyQuery('+44 20 7946 0000'), { kind: 'phoneNumber', value: '+44 20 7946 0000' })
    assert.equal(classifyQuery('   '), null)
  })

  test('one identity: a node per contact, the primary marked, a star per shared value, the link', () => {
    const elements = buildElements([chain], nothingBlocked)
    const nodes = elements.filter((e) => e.group === 'nodes')
    assert.deepEqual(
      nodes.map((n) => [n.data.id, n.data.primary, n.data.parent]),
      [
        ['c1', true, undefined],
        ['c2', false, undefined],
        ['c3', false, undefined],
        ['c4', false, undefined],
        ['c5', false, undefined],
      ],
    )
    assert.deepEqual(edgesOf(elements), ['email c2-c3', 'link c4-c5', 'phoneNumber c1-c2', 'phoneNumber c3-c4'])
    for (const n of nodes) assert.ok(n.position, 'a fixed starting place, so the layout is the same each time')
  })

  test('a value held by many is a star from its oldest holder, not a clique', () => {
    const contacts = Array.from({ length: 200 }, (_, i) =>
      contact(i + 1, 'test@test.com', String(i), i === 0 ? null : 1),
    )
    const big: Identity = { contact: view(1, []), contacts, links: [] }
    const edges = buildElements([big], nothingBlocked).filter((e) => e.group === 'edges')
    assert.equal(edges.length, 199)
    assert.ok(edges.every((e) => e.data.source === 'c1'))
  })

  test('parts of a split are compound nodes; a blocked value still drawn between them, marked', () => {
    const isBlocked = (kind: string, value: string) => kind === 'email' && value === 'test@test.com'
    const parts: Identity[] = [
      { contact: view(1, []), contacts: [contact(1, 'test@test.com', '1', null)], links: [] },
      {
        contact: view(2, [3]),
        contacts: [contact(2, 'test@test.com', '2', null), contact(3, 'r@x.io', '2', 2)],
        links: [],
      },
    ]
    const elements = buildElements(parts, isBlocked)
    assert.deepEqual(
      elements.filter((e) => e.group === 'nodes').map((n) => `${n.data.id}:${n.data.parent ?? ''}`),
      ['p1:', 'c1:p1', 'p2:', 'c2:p2', 'c3:p2'],
    )
    assert.deepEqual(edgesOf(elements), ['email c1-c2 blocked', 'phoneNumber c2-c3'])
    const c1 = elements.find((e) => e.data.id === 'c1')
    assert.equal(c1?.data.emailBlocked, true)
    assert.match(String(c1?.data.label), /⊘ test@test\.com/)
    assert.match(String(c1?.classes), /holds-blocked/)
  })

  test('a link whose value no live contact holds is not drawn', () => {
    const lonely: Identity = { ...chain, links: [{ id: 8, email: 'gone@x.io', phoneNumber: '1', createdAt: at(7) }] }
    assert.ok(!edgesOf(buildElements([lonely], nothingBlocked)).some((e) => e.startsWith('link')))
  })

  test('pathElements: the drawn edge of each step, or an extra one between non-adjacent holders', () => {
    const edges = buildElements([chain], nothingBlocked)
      .filter((e) => e.group === 'edges')
      .map((e) => e.data as { id: string; source: string; target: string; kind: string })
    const path = [
      { contactId: 1 },
      { contactId: 2, via: { phoneNumber: '1' } },
      { contactId: 3, via: { email: 'b@x.io' } },
      { contactId: 4, via: { phoneNumber: '2' } },
      { contactId: 5, via: { link: { email: 'g@x.io', phoneNumber: '9' } } },
    ]
    const out = pathElements(path, edges)
    assert.deepEqual(out.nodeIds, ['c1', 'c2', 'c3', 'c4', 'c5'])
    assert.deepEqual(out.edgeIds, ['phoneNumber:1:1-2', 'email:b@x.io:2-3', 'phoneNumber:2:3-4', 'link:7'])
    assert.deepEqual(out.extra, [])
    // Two later holders of one value are joined on the graph through the oldest one only.
    const star = pathElements([{ contactId: 3 }, { contactId: 2, via: { phoneNumber: '7' } }], edges)
    assert.equal(star.extra.length, 1)
    assert.equal(star.extra[0]?.data.label, 'phone 7')
  })

  test('describeEvent: a sentence for each type', () => {
    assert.deepEqual(
      describeEvent({ type: 'contact.created', contactId: 2, linkedId: 1, email: 'b@x.io', phoneNumber: '1' }),
      { title: 'Contact #2 created', detail: 'b@x.io, 1 — secondary of #1' },
    )
    assert.equal(
      describeEvent({
        type: 'identity.merged',
        survivorId: 1,
        mergedPrimaryId: 3,
        via: { link: { email: 'a@x.io', phoneNumber: '2' } },
      }).detail,
      'via the link a@x.io ↔ 2',
    )
    assert.deepEqual(
      describeEvent({ type: 'identity.split', primaryBefore: 1, primariesAfter: [1, 3], cause: { contactDeleted: 2 } }),
      { title: 'Identity #1 split in 2', detail: 'into #1, #3 — contact #2 was deleted' },
    )
    assert.equal(
      describeEvent({ type: 'value.blocked', kind: 'email', value: 'test@test.com', contactIds: [1, 2] }).detail,
      'test@test.com — held by #1, #2',
    )
    assert.equal(
      describeEvent({ type: 'contact.created', contactId: 2, linkedId: null, erased: true }).detail,
      '(erased) — a new primary',
    )
    assert.equal(describeEvent({ type: 'identity.erased', contacts: 3, links: 1 }).detail, '3 contacts, 1 links')
  })
})
