/**
 * Property: random sequences of identify, delete, erase, block and unblock, on every engine, against
 * a small independent model; after every step the store's live contacts, their primaries, its links
 * and every answer are the model's, and I1–I4 hold on stored data (links as the evidence, blocked
 * values joining nothing).
 *
 * The model keeps no tree: an identity is a connected component of live contacts under shared
 * values that are not blocked and links both of whose values are not blocked and held; its primary
 * is its oldest (lowest id) contact. Which deleted contacts an erasure sweeps follows the history
 * (SPEC §8 "the deleted ones that were last part of it"); the model takes that set from the store's
 * answer and checks it holds at least the identity's live contacts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { AppError } from '../../src/errors.ts'
import type { IdentityView } from '../../src/identity/contact.ts'
import { IdentityService } from '../../src/service/service.ts'
import { storePool } from '../cli/helpers.ts'
import { engines } from '../support/engines.ts'
import { assertInvariants, Components } from '../support/invariants.ts'

type Kind = 'email' | 'phoneNumber'
interface MContact {
  id: number
  email: string | null
  phone: string | null
  live: boolean
}

class Model {
  contacts: MContact[] = []
  links: { email: string; phone: string }[] = []
  blocked = new Map<string, number>() // `kind:value` → the store's entry id

  joins(kind: Kind, value: string | null): value is string {
    return value !== null && !this.blocked.has(`${kind}:${value}`)
  }

  live(): MContact[] {
    return this.contacts.filter((c) => c.live)
  }

  /** Each live contact's primary: the lowest id of its component. */
  primaries(): Map<number, number> {
    const cs = new Components()
    const live = this.live()
    const holders = (kind: Kind, value: string) => live.filter((c) => (kind === 'email' ? c.email : c.phone) === value)
    for (const c of live) {
      cs.find(`c${c.id}`)
      if (this.joins('email', c.email)) cs.union(`c${c.id}`, `e${c.email}`)
      if (this.joins('phoneNumber', c.phone)) cs.union(`c${c.id}`, `p${c.phone}`)
    }
    for (const l of this.links) {
      if (!this.joins('email', l.email) || !this.joins('phoneNumber', l.phone)) continue
      const a = holders('email', l.email)
      const b = holders('phoneNumber', l.phone)
      if (a.length > 0 && b.length > 0) cs.union(`c${(a[0] as MContact).id}`, `c${(b[0] as MContact).id}`)
    }
    const rootOf = new Map<string, number>()
    const out = new Map<number, number>()
    for (const c of [...live].sort((x, y) => x.id - y.id)) {
      const r = cs.find(`c${c.id}`)
      if (!rootOf.has(r)) rootOf.set(r, c.id)
      out.set(c.id, rootOf.get(r) as number)
    }
    return out
  }

  view(primary: number): IdentityView {
    const p = this.primaries()
    const members = this.live()
      .filter((c) => p.get(c.id) === primary)
      .sort((a, b) => a.id - b.id)
    const unique = (xs: (string | null)[]) => [...new Set(xs.filter((x): x is string => x !== null))]
    return {
      primaryContatctId: primary,
      emails: unique(members.map((c) => c.email)),
      phoneNumbers: unique(members.map((c) => c.phone)),
      secondaryContactIds: members.filter((c) => c.id !== primary).map((c) => c.id),
    }
  }

  /** What identify should do: 422, or whether it creates a contact (and its values), stores a link. */
  plan(email: string | null, phone: string | null) {
    const e = this.joins('email', email) ? email : null
    const ph = this.joins('phoneNumber', phone) ? phone : null
    if (e === null && ph === null) return { refused: true as const }
    const p = this.primaries()
    const live = this.live()
    const roots = new Set<number>()
    for (const c of live)
      if ((e !== null && c.email === e) || (ph !== null && c.phone === ph)) roots.add(p.get(c.id) as number)
    const held = (kind: Kind, v: string) => live.some((c) => (kind === 'email' ? c.email : c.phone) === v)
    for (const l of this.links) {
      if (!this.joins('email', l.email) || !this.joins('phoneNumber', l.phone)) continue
      if (e !== null && l.email === e && !held('email', e)) {
        const other = live.find((c) => c.phone === l.phone)
        if (other) roots.add(p.get(other.id) as number)
      }
      if (ph !== null && l.phone === ph && !held('phoneNumber', ph)) {
        const other = live.find((c) => c.email === l.email)
        if (other) roots.add(p.get(other.id) as number)
      }
    }
    const union = live.filter((c) => roots.has(p.get(c.id) as number))
    const bringsNew =
      (e !== null && !union.some((c) => c.email === e)) || (ph !== null && !union.some((c) => c.phone === ph))
    return {
      refused: false as const,
      email: e,
      phone: ph,
      create: roots.size === 0 || bringsNew,
      link: roots.size >= 2 && !bringsNew,
    }
  }
}

const emails = ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io']
const phones = ['1', '2', '3', '4']
type Op =
  | { op: 'identify'; email: string | null; phone: string | null }
  | { op: 'delete'; pick: number }
  | { op: 'erase'; pick: number }
  | { op: 'block'; kind: Kind; value: string }
  | { op: 'unblock'; pick: number }
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .record({
        op: fc.constant('identify' as const),
        email: fc.option(fc.constantFrom(...emails), { nil: null }),
        phone: fc.option(fc.constantFrom(...phones), { nil: null }),
      })
      .filter((r) => r.email !== null || r.phone !== null),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('erase' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({
        op: fc.constant('block' as const),
        kind: fc.constant('email' as const),
        value: fc.constantFrom(...emails),
      }),
      fc.record({
        op: fc.constant('block' as const),
        kind: fc.constant('phoneNumber' as const),
        value: fc.constantFrom(...phones),
      }),
    ),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('unblock' as const), pick: fc.nat() }) },
)

for (const engine of engines()) {
  describe(`identify, delete, erase, block and unblock match the model (${engine.name})`, () => {
    test('random sequences', async (t) => {
      const pool = await storePool(engine)
      t.after(() => pool.close())
      let steps = 0
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'medium' }), async (ops) => {
          const store = await pool.next()
          const service = new IdentityService(store)
          const model = new Model()
          for (const step of ops) {
            steps++
            if (step.op === 'identify') {
              const plan = model.plan(step.email, step.phone)
              let answer: IdentityView | null = null
              try {
                answer = (await service.identify({ email: step.email, phoneNumber: step.phone })).view
              } catch (err) {
                assert.ok(err instanceof AppError && err.code === 'ERR_BLOCKED_VALUE', String(err))
              }
              if (plan.refused) {
                assert.equal(answer, null, 'every value blocked: refused')
              } else {
                if (plan.link) model.links.push({ email: plan.email as string, phone: plan.phone as string })
                if (plan.create) {
                  const rows = await store.listContacts()
                  const id = (rows.at(-1) as { id: number }).id
                  model.contacts.push({ id, email: plan.email, phone: plan.phone, live: true })
                }
                assert.ok(answer !== null)
                assert.deepEqual(answer, model.view(answer.primaryContatctId), 'the answer')
              }
            } else if (step.op === 'delete') {
              const live = model.live()
              if (live.length === 0) continue
              const victim = live[step.pick % live.length] as MContact
              await service.deleteContact(victim.id)
              victim.live = false
            } else if (step.op === 'erase') {
              const live = model.live()
              if (live.length === 0) continue
              const victim = live[step.pick % live.length] as MContact
              const primary = model.primaries().get(victim.id)
              const members = live.filter((c) => model.primaries().get(c.id) === primary).map((c) => c.id)
              const { erasedContactIds } = await service.erase(victim.id)
              for (const id of members) assert.ok(erasedContactIds.includes(id), `erased ${id}`)
              const gone = model.contacts.filter((c) => erasedContactIds.includes(c.id))
              model.contacts = model.contacts.filter((c) => !erasedContactIds.includes(c.id))
              // An erased value goes, with its links, unless another live contact still holds it.
              const stillLive = model.live()
              const goneEmails = new Set(
                gone.map((c) => c.email).filter((v) => v !== null && !stillLive.some((x) => x.email === v)),
              )
              const gonePhones = new Set(
                gone.map((c) => c.phone).filter((v) => v !== null && !stillLive.some((x) => x.phone === v)),
              )
              model.links = model.links.filter((l) => !goneEmails.has(l.email) && !gonePhones.has(l.phone))
            } else if (step.op === 'block') {
              const { entry } = await service.block({ kind: step.kind, value: step.value })
              model.blocked.set(`${step.kind}:${step.value}`, entry.id)
            } else {
              const entries = [...model.blocked.entries()]
              if (entries.length === 0) continue
              const [key, id] = entries[step.pick % entries.length] as [string, number]
              await service.unblock(id)
              model.blocked.delete(key)
            }

            const rows = await store.listContacts()
            const live = rows.filter((r) => r.deletedAt === null)
            const primaries = model.primaries()
            assert.deepEqual(
              live.map((r) => [r.id, r.email, r.phoneNumber, r.linkedId]),
              model
                .live()
                .sort((a, b) => a.id - b.id)
                .map((c) => [c.id, c.email, c.phone, primaries.get(c.id) === c.id ? null : primaries.get(c.id)]),
              `live contacts after ${JSON.stringify(step)}`,
            )
            const links = await store.listLinks()
            assert.deepEqual(
              links.map((l) => `${l.email} ${l.phoneNumber}`).sort(),
              model.links.map((l) => `${l.email} ${l.phone}`).sort(),
              'links',
            )
            assertInvariants(rows, links, (kind, value) => model.blocked.has(`${kind}:${value}`))
          }
        }),
        { numRuns: Number(process.env.OP_RUNS ?? (engine.name === 'sqlite' ? 150 : 20)) },
      )
      t.diagnostic(`${steps} steps`)
    })
  })
}
