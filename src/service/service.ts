/**
 * `IdentityService`: the operations the HTTP routes and the CLI call, each one unit of work run by
 * the store at the right isolation. Inputs are already normalised (src/identity/normalize.ts).
 */
import type { IdentifyInput } from '../identity/normalize.ts'
import type { IdentitySelector, Store } from '../store/port.ts'
import { type IdentifyResult, identify } from './identify.ts'
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
}
