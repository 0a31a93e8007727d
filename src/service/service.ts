/**
 * `IdentityService`: the operations the HTTP routes and the CLI call, each one unit of work run by
 * the store at the right isolation. Inputs are already normalised (src/identity/normalize.ts).
 */
import { COMMON_JUNK } from '../identity/blocklist.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import type { IdentitySelector, Store, Unit } from '../store/port.ts'
import { type IdentifyResult, identify } from './identify.ts'
import {
  type BlockSpec,
  blockedValueJson,
  blockValue,
  deleteContact,
  deleteLink,
  eraseIdentity,
  hubs,
  listBlocked,
  type Remaining,
  unblockValue,
} from './operator.ts'
import { explain, type HistoryPage, readContact, readHistory, readIdentity } from './reads.ts'
import type { IdentityJson } from './views.ts'

/** Who asked: the request id goes into every event the operation appends. */
export interface Caller {
  readonly requestId?: string | null
}

export class IdentityService {
  constructor(readonly store: Store) {}

  /**
   * @example
   * const { view } = await service.identify({ email: 'doc@hillvalley.edu', phoneNumber: null }, { requestId })
   */
  identify(input: IdentifyInput, caller: Caller = {}): Promise<IdentifyResult> {
    return this.store.run((tx) => identify(tx, input), { mode: 'write', kind: 'identify', requestId: caller.requestId })
  }

  identity(selector: IdentitySelector, caller: Caller = {}): Promise<IdentityJson> {
    return this.store.run((tx) => readIdentity(tx, selector), {
      mode: 'read',
      kind: 'read',
      requestId: caller.requestId,
    })
  }

  contact(id: number, caller: Caller = {}) {
    return this.store.run((tx) => readContact(tx, id), { mode: 'read', kind: 'read', requestId: caller.requestId })
  }

  history(contactId: number, page: { after: number; limit: number }, caller: Caller = {}): Promise<HistoryPage> {
    return this.store.run((tx) => readHistory(tx, contactId, page), {
      mode: 'read',
      kind: 'read',
      requestId: caller.requestId,
    })
  }

  explain(fromId: number, toId: number, caller: Caller = {}) {
    return this.store.run((tx) => explain(tx, fromId, toId), {
      mode: 'read',
      kind: 'read',
      requestId: caller.requestId,
    })
  }

  deleteContact(id: number, caller: Caller = {}): Promise<Remaining> {
    return this.#operator((tx) => deleteContact(tx, id), caller)
  }

  deleteLink(id: number, caller: Caller = {}): Promise<Remaining> {
    return this.#operator((tx) => deleteLink(tx, id), caller)
  }

  erase(contactId: number, caller: Caller = {}) {
    return this.#operator((tx) => eraseIdentity(tx, contactId), caller)
  }

  /** Resolves with the entry as JSON and whether it was new (201) or already there (200). */
  async block(spec: BlockSpec, caller: Caller = {}) {
    const { entry, created } = await this.#operator((tx) => blockValue(tx, spec), caller)
    return { entry: blockedValueJson(entry), created }
  }

  async unblock(id: number, caller: Caller = {}) {
    const { entry, identities } = await this.#operator((tx) => unblockValue(tx, id), caller)
    return { ...blockedValueJson(entry), identities }
  }

  blocked(caller: Caller = {}) {
    return this.store.run((tx) => listBlocked(tx), { mode: 'read', kind: 'read', requestId: caller.requestId })
  }

  hubs(limit: number, caller: Caller = {}) {
    return this.store.run((tx) => hubs(tx, limit), { mode: 'read', kind: 'read', requestId: caller.requestId })
  }

  /**
   * Makes the built-in list of common junk (BLOCK_COMMON_JUNK) the stored one: added, with
   * regrouping, when on; removed, with re-joining, when off. Idempotent; run at start.
   */
  async syncCommonJunk(enabled: boolean): Promise<{ added: number; removed: number }> {
    let added = 0
    let removed = 0
    const caller = { requestId: 'startup:common-junk' }
    const { blockedValues } = await this.blocked()
    for (const junk of COMMON_JUNK) {
      const present = blockedValues.find(
        (e) =>
          e.kind === junk.kind &&
          (e.value ?? null) === (junk.value ?? null) &&
          (e.pattern ?? null) === (junk.pattern ?? null),
      )
      if (enabled && present === undefined) {
        const spec = {
          kind: junk.kind,
          value: junk.value ?? null,
          pattern: junk.pattern ?? null,
          source: 'builtin' as const,
        }
        await this.block(spec, caller)
        added++
      } else if (!enabled && present?.builtin) {
        await this.unblock(present.id, caller)
        removed++
      }
    }
    return { added, removed }
  }

  #operator<T>(unit: Unit<T>, caller: Caller): Promise<T> {
    return this.store.run(unit, { mode: 'write', kind: 'operator', requestId: caller.requestId })
  }
}
