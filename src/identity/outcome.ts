/**
 * What one `/identify` request did to the store, as metrics and the request log name it. Derived
 * from the rules' decision alone, so every engine and the importer report the same outcome.
 */
import type { Decision } from './reconcile.ts'

/** A merge may also create a secondary; it counts as a merge, the rarer and more telling event. */
export type IdentifyOutcome = 'new_primary' | 'new_secondary' | 'merge' | 'nothing_new'

export const IDENTIFY_OUTCOMES: readonly IdentifyOutcome[] = ['new_primary', 'new_secondary', 'merge', 'nothing_new']

/**
 * @example
 * outcomeOf(decide(input, touched)) // 'nothing_new' for a request the store already knows
 */
export function outcomeOf(decision: Decision): IdentifyOutcome {
  if (decision.primaryId === null) return 'new_primary'
  if (decision.demotedPrimaryIds.length > 0) return 'merge'
  return decision.create === null ? 'nothing_new' : 'new_secondary'
}
