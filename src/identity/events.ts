/**
 * The history's vocabulary (SPEC §7 "History"): event types, and the roles a contact plays in an
 * event. Events are appended in the transaction that makes their change, by the service's units of
 * work; the store keeps them and indexes them by contact.
 */

export const EVENT_TYPES = [
  'contact.created',
  'identity.merged',
  'contact.deleted',
  'link.deleted',
  'identity.split',
  'identity.erased',
  'value.blocked',
  'value.unblocked',
] as const

export type EventType = (typeof EVENT_TYPES)[number]

/**
 * How an event concerns a contact. `member` is not shown: it records every contact of an identity
 * just before a change that may split it, so that each part keeps the history from before (SPEC §7).
 */
export type EventRole =
  | 'created'
  | 'primary'
  | 'survivor'
  | 'merged'
  | 'deleted'
  | 'before'
  | 'after'
  | 'erased'
  | 'holder'
  | 'member'

export interface EventContact {
  readonly id: number
  readonly role: EventRole
}

/** JSON data of an event: the values it is about (emails and phone numbers, scrubbed by erasure). */
export type EventData = Readonly<Record<string, unknown>>

export interface NewEvent {
  readonly type: EventType
  /** The contacts it concerns, with their roles; `member` rows only on splitting changes. */
  readonly contacts: readonly EventContact[]
  readonly data: EventData
}

export interface StoredEvent {
  readonly id: number
  readonly type: EventType
  /** Epoch milliseconds. */
  readonly at: number
  readonly requestId: string | null
  /** The contacts it concerns (without `member` rows). */
  readonly contacts: readonly EventContact[]
  readonly data: EventData
}
