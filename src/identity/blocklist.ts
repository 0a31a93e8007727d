/**
 * Blocked values (SPEC §9): junk emails and phone numbers that would join strangers into one
 * identity. A blocked value counts as absent in `/identify` and imports and joins nothing in
 * regrouping. An entry is an exact normalised value or a regular expression over normalised values,
 * run by RE2JS, a linear-time engine: a pattern that RE2 cannot run in linear time (backreferences,
 * lookaround) is refused when it is added, so no pattern can stall the service. Pure.
 */
import { RE2JS } from 're2js'
import { AppError } from '../errors.ts'
import type { JoinPolicy } from './graph.ts'

export type BlockKind = 'email' | 'phoneNumber'

export interface BlockedValue {
  readonly id: number
  readonly kind: BlockKind
  /** An exact normalised value; null for a pattern. */
  readonly value: string | null
  /** A regular expression searched in normalised values (anchor it with ^ and $); null for a value. */
  readonly pattern: string | null
  readonly createdAt: number
  /** `builtin`: from the common-junk list (BLOCK_COMMON_JUNK), managed by the service. */
  readonly source: 'operator' | 'builtin'
}

export const MAX_PATTERN_LENGTH = 500

/**
 * Compiles a pattern with the linear-time engine, or refuses it with a message saying why.
 *
 * @example
 * compilePattern('^0+$')      // ok
 * compilePattern('(a)\\1')    // AppError ERR_INVALID_INPUT: backreferences cannot run in linear time
 */
export function compilePattern(pattern: string): RE2JS {
  if (pattern.length === 0) throw new AppError('ERR_INVALID_INPUT', 'pattern must not be empty')
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new AppError('ERR_INVALID_INPUT', `pattern is longer than ${MAX_PATTERN_LENGTH} characters`)
  }
  try {
    return RE2JS.compile(pattern)
  } catch (err) {
    throw new AppError(
      'ERR_INVALID_INPUT',
      `pattern is not a regular expression that runs in linear time (RE2 syntax: no backreferences or lookaround): ${(err as Error).message}`,
    )
  }
}

/**
 * The block list as the rules use it: exact values in sets, patterns compiled once. With no
 * patterns, checking a request costs two set lookups.
 */
export class BlockList implements JoinPolicy {
  readonly entries: readonly BlockedValue[]
  readonly #exact: Record<BlockKind, Set<string>> = { email: new Set(), phoneNumber: new Set() }
  readonly #patterns: Record<BlockKind, RE2JS[]> = { email: [], phoneNumber: [] }

  constructor(entries: readonly BlockedValue[]) {
    this.entries = entries
    for (const e of entries) {
      if (e.value !== null) this.#exact[e.kind].add(e.value)
      if (e.pattern !== null) this.#patterns[e.kind].push(compilePattern(e.pattern))
    }
  }

  static readonly EMPTY = new BlockList([])

  /** True when `value` (normalised) is blocked. */
  blocks(kind: BlockKind, value: string): boolean {
    if (this.#exact[kind].has(value)) return true
    for (const p of this.#patterns[kind]) if (p.matcher(value).find()) return true
    return false
  }

  /** JoinPolicy: a blocked value joins nothing. */
  joins(kind: BlockKind, value: string): boolean {
    return !this.blocks(kind, value)
  }

  /** A list with one more entry, or one fewer. */
  with(entry: BlockedValue): BlockList {
    return new BlockList([...this.entries, entry])
  }

  without(id: number): BlockList {
    return new BlockList(this.entries.filter((e) => e.id !== id))
  }
}

/** True when `entry` matches `value` (of its kind). */
export function entryMatches(entry: BlockedValue, value: string): boolean {
  return entry.value !== null
    ? entry.value === value
    : compilePattern(entry.pattern as string)
        .matcher(value)
        .find()
}

/**
 * The built-in list of common junk (BLOCK_COMMON_JUNK=true; off by default so that the contract's
 * own examples keep working). Chosen from what identity vendors document for the same problem —
 * Segment Unify's recommended blocked values ("zeroes and dashes", "anonymous", hard-coded
 * development values such as `void` or `abc123`) — and from the domains RFC 2606 and RFC 6761
 * reserve for examples and tests, which no customer's mailbox can be at. docs/blocked-values.md
 * lists them with their reasons.
 */
export const COMMON_JUNK: readonly { kind: BlockKind; value?: string; pattern?: string; why: string }[] = [
  { kind: 'email', value: 'test@test.com', why: 'the classic QA address' },
  { kind: 'email', value: 'test@gmail.com', why: 'a QA address at a real provider' },
  { kind: 'email', value: 'a@a.com', why: 'keyboard filler' },
  { kind: 'email', value: 'asdf@asdf.com', why: 'keyboard filler' },
  { kind: 'email', value: 'abc@abc.com', why: 'keyboard filler' },
  { kind: 'email', value: 'noemail@noemail.com', why: 'a form filled without an address' },
  { kind: 'email', value: 'no@email.com', why: 'a form filled without an address' },
  {
    kind: 'email',
    pattern: '^(null|none|nil|undefined|unknown|anonymous|void|abc123|n/?a|no-?email|no-?reply|do-?not-?reply)@',
    why: 'placeholder local parts: the absence of a value written as a value',
  },
  {
    kind: 'email',
    pattern: '@(example\\.(com|net|org)|[^@]*\\.(test|example|invalid|localhost))$',
    why: 'domains reserved for examples and tests (RFC 2606, RFC 6761)',
  },
  { kind: 'phoneNumber', pattern: '^\\+?(0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$', why: 'one digit repeated ("zeroes")' },
  {
    kind: 'phoneNumber',
    pattern: '^\\+?(0123456789|1234567890|123456789|9876543210)$',
    why: 'a counted run of digits',
  },
]
