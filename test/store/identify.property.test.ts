/**
 * Property: for random request sequences, every store answers exactly as a small model of the
 * contract does, stores the links and the events the model expects, and the stored rows satisfy
 * I1–I4 after every step — I2 judged on stored data alone (contacts and links).
 *
 * The model is deliberately built differently from src/identity: it keeps no tree. An identity is a
 * connected component of values, where a contact joins its email and phone number and so does every
 * request that carried both; its primary is its oldest contact. A request whose email and phone
 * number lie in two components is a merge: it leaves a link and an `identity.merged` event.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { StoredContact } from '../../src/identity/contact.ts'
import { normalizeIdentifyInput } from '../../src/identity/normalize.ts'
import { engines } from '../support/engines.ts'
import { assertInvariants, Components } from '../support/invariants.ts'
import { identifyIn } from '../support/store.ts'

interface ModelContact {
  id: number
  email: string | null
  phone: string | null
}

interface Request {
  email: string | null
  phone: string | null
}

/** An event as the model expects it: type and contact ids with their roles, in model ids. */
type ModelEvent = { type: string; contacts: [number, string][] }

class Model {
  readonly contacts: ModelContact[] = []
  readonly requests: Request[] = []
  readonly links: Request[] = []
  readonly events: ModelEvent[] = []

  identify(request: Request) {
    const byEmail = request.email === null ? [] : this.identityOf({ email: request.email, phone: null })
    const byPhone = request.phone === null ? [] : this.identityOf({ email: null, phone: request.phone })
    if (byEmail.length > 0 && byPhone.length > 0 && byEmail[0] !== byPhone[0]) {
      const [survivor, merged] = [byEmail[0], byPhone[0]].sort((a, b) => a!.id - b!.id) as ModelContact[]
      this.links.push(request)
      this.events.push({
        type: 'identity.merged',
        contacts: [
          [survivor!.id, 'survivor'],
          [merged!.id, 'merged'],
        ],
      })
    }
    this.requests.push(request)
    const matched = this.contacts.some(
      (c) =>
        (request.email !== null && c.email === request.email) || (request.phone !== null && c.phone === request.phone),
    )
    if (!matched) {
      this.contacts.push({ id: this.contacts.length + 1, ...request })
      this.events.push({ type: 'contact.created', contacts: [[this.contacts.length, 'created']] })
      return this.view(request)
    }
    const identity = this.identityOf(request)
    const newEmail = request.email !== null && !identity.some((c) => c.email === request.email)
    const newPhone = request.phone !== null && !identity.some((c) => c.phone === request.phone)
    if (newEmail || newPhone) {
      this.contacts.push({ id: this.contacts.length + 1, ...request })
      this.events.push({
        type: 'contact.created',
        contacts: [
          [this.contacts.length, 'created'],
          [identity[0]!.id, 'primary'],
        ],
      })
    }
    return this.view(request)
  }

  /** Contacts in the same value component as the request, oldest first (ids grow with age). */
  identityOf(request: Request): ModelContact[] {
    const components = new Components()
    const keys = (x: Request) => [x.email && `e:${x.email}`, x.phone && `p:${x.phone}`].filter((k) => k) as string[]
    for (const x of [...this.contacts, ...this.requests]) {
      const [a, b] = keys(x)
      if (a) components.find(a)
      if (a && b) components.union(a, b)
    }
    const root = components.find(keys(request)[0] as string)
    return this.contacts.filter((c) => components.find(keys(c)[0] as string) === root)
  }

  view(request: Request) {
    const identity = this.identityOf(request)
    const [primary, ...others] = identity
    const unique = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))]
    return {
      primaryContatctId: primary!.id,
      emails: unique([primary!.email, ...others.map((c) => c.email)]),
      phoneNumbers: unique([primary!.phone, ...others.map((c) => c.phone)]),
      secondaryContactIds: others.map((c) => c.id),
      linkedIdOf: new Map(identity.map((c) => [c.id, c === primary ? null : primary!.id])),
    }
  }
}

// Few distinct values, so that requests collide, chain and merge often.
const emailArb = fc.constantFrom('a@x.io', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io', 'f@x.io')
const phoneArb = fc.constantFrom('1', '22', '333', '+4444', '55555', '0666')

/** A request as a client might spell it: the canonical values plus noise normalisation removes. */
const requestArb = fc
  .record({
    email: fc.option(emailArb, { nil: null }),
    phone: fc.option(phoneArb, { nil: null }),
    shout: fc.boolean(),
    pad: fc.boolean(),
    asNumber: fc.boolean(),
  })
  .filter((r) => r.email !== null || r.phone !== null)
  .map((r) => {
    const canonical: Request = { email: r.email, phone: r.phone }
    let email: string | null = r.email
    if (email !== null && r.shout) email = email.toUpperCase()
    if (email !== null && r.pad) email = `  ${email} `
    let phone: string | number | null = r.phone
    if (phone !== null && r.pad) phone = `${phone.slice(0, 1)} -${phone.slice(1)}`
    if (r.phone !== null && r.asNumber && /^[1-9]\d*$/.test(r.phone)) phone = Number(r.phone)
    return { canonical, body: { email, phoneNumber: phone } }
  })

for (const engine of engines()) {
  describe(`identify matches the model (${engine.name})`, () => {
    test('random request sequences', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 25 }), async (steps) => {
          const db = await engine.open()
          try {
            const model = new Model()
            for (const step of steps) {
              const expected = model.identify(step.canonical)
              const answer = await identifyIn(db.store, normalizeIdentifyInput(step.body))
              const rows = await db.store.listContacts()
              assert.equal(rows.length, model.contacts.length, 'number of stored contacts')
              // Ids may skip values (PostgreSQL sequences), so map the model's ids by creation order.
              const storeId = (modelId: number) => (rows[modelId - 1] as StoredContact).id
              assert.deepEqual(answer, {
                primaryContatctId: storeId(expected.primaryContatctId),
                emails: expected.emails,
                phoneNumbers: expected.phoneNumbers,
                secondaryContactIds: expected.secondaryContactIds.map(storeId),
              })
              model.contacts.forEach((c, i) => {
                const row = rows[i] as StoredContact
                assert.equal(row.email, c.email)
                assert.equal(row.phoneNumber, c.phone)
              })
              for (const [modelId, linked] of expected.linkedIdOf) {
                const row = rows[modelId - 1] as StoredContact
                assert.equal(row.linkedId, linked === null ? null : storeId(linked), `linkedId of ${row.id}`)
                assert.equal(row.linkPrecedence, linked === null ? 'primary' : 'secondary')
              }
              // I2 on stored data alone: the store's links are the only evidence of merges.
              const links = await db.store.listLinks()
              assertInvariants(rows, links)
              assert.deepEqual(
                links.map((l) => [l.email, l.phoneNumber]),
                model.links.map((l) => [l.email, l.phone]),
                'links',
              )
              const events = await db.store.listEvents()
              assert.deepEqual(
                events.map((e) => ({ type: e.type, contacts: e.contacts.map((c) => [c.id, c.role]) })),
                model.events.map((e) => ({
                  type: e.type,
                  contacts: e.contacts.map(([id, role]) => [storeId(id), role]),
                })),
                'event log: types, order, contact ids',
              )
            }
          } finally {
            await db.drop()
          }
        }),
        { numRuns: engine.name === 'sqlite' ? 200 : 40 },
      )
    })
  })
}
