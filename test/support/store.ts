/**
 * Running the service's units against a store directly, for store-level tests.
 *
 * @example
 * const view = await identifyIn(db.store, { email: 'doc@hillvalley.edu', phoneNumber: null })
 */
import type { IdentityView } from '../../src/identity/contact.ts'
import type { IdentifyInput } from '../../src/identity/normalize.ts'
import { identify } from '../../src/service/identify.ts'
import type { Store } from '../../src/store/port.ts'

export async function identifyIn(
  store: Store,
  input: IdentifyInput,
  requestId: string | null = null,
): Promise<IdentityView> {
  const { view } = await store.run((tx) => identify(tx, input), { mode: 'write', requestId })
  return view
}
