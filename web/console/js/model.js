/**
 * The console's pure logic, no DOM: what a search box entry asks for, how identities become graph
 * elements, which drawn edges an explain path walks, and a sentence for each history event. Kept
 * free of the browser so `test/unit/console-model.test.ts` runs it under Node.
 */

/**
 * @typedef {{ id: number, email: string | null, phoneNumber: string | null, linkedId: number | null,
 *   linkPrecedence: 'primary' | 'secondary', createdAt: string, updatedAt: string }} Contact
 * @typedef {{ id: number, email: string, phoneNumber: string, createdAt: string }} Link
 * @typedef {{ primaryContatctId: number, emails: string[], phoneNumbers: string[], secondaryContactIds: number[] }} View
 * @typedef {{ contact: View, contacts: Contact[], links: Link[], otherIdentities?: number[] }} Identity
 * @typedef {'email' | 'phoneNumber'} ValueKind
 * @typedef {(kind: ValueKind, value: string) => boolean} IsBlocked
 * @typedef {{ email?: string, phoneNumber?: string, link?: { email: string, phoneNumber: string } }} Via
 * @typedef {{ contactId: number, via?: Via }} Step
 * @typedef {{ group: 'nodes' | 'edges', data: Record<string, unknown> & { id: string },
 *   classes?: string, position?: { x: number, y: number } }} Element
 */

/**
 * What the operator typed, as the lookups to make. An email has an `@`; `#12` or `id:12` is a
 * contact id; bare digits may be a phone number or a contact id, so both are asked; anything else
 * goes to the server as a phone number, which normalises it (spaces, dashes, dots, parentheses) or
 * answers why it is not one.
 *
 * @example
 * classifyQuery(' (555) 0101 ') // { kind: 'phoneNumber', value: '(555) 0101' }
 * classifyQuery('#12')          // { kind: 'id', value: '12' }
 *
 * @param {string} raw
 * @returns {{ kind: 'email' | 'phoneNumber' | 'id' | 'digits', value: string } | null}
 */
export function classifyQuery(raw) {
  const q = raw.trim()
  if (q === '') return null
  const id = /^(?:#|id:\s*)(\d{1,15})$/i.exec(q)
  if (id?.[1] !== undefined) return { kind: 'id', value: id[1] }
  if (q.includes('@')) return { kind: 'email', value: q }
  if (/^\d{1,15}$/.test(q)) return { kind: 'digits', value: q }
  return { kind: 'phoneNumber', value: q }
}

export const nodeId = (/** @type {number} */ contactId) => `c${contactId}`
export const partId = (/** @type {number} */ primaryId) => `p${primaryId}`

/** Oldest first, as the service orders contacts (`createdAt`, then `id`). */
const byAge = (/** @type {Contact} */ a, /** @type {Contact} */ b) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id - b.id

/**
 * Cytoscape elements for the identities shown (one, or the parts of a split): a node per live
 * contact, inside a compound node per identity when there are several; for each value held by
 * several contacts, edges from its oldest holder to each other holder (a star, not a clique: a
 * value held by 200 contacts draws 199 edges, not 19,900); for each link, an edge between the
 * oldest holders of its email and of its phone number. Values and links that are blocked join
 * nothing, and their edges say so (class `blocked`), also across parts — which is why parts split.
 *
 * @param {Identity[]} parts
 * @param {IsBlocked} isBlocked
 * @returns {Element[]}
 */
export function buildElements(parts, isBlocked) {
  /** @type {Element[]} */
  const nodes = []
  /** @type {Element[]} */
  const edges = []
  const compound = parts.length > 1
  /** @type {Map<number, Contact>} */
  const seen = new Map()
  parts.forEach((part, p) => {
    const primary = part.contact.primaryContatctId
    if (compound) {
      nodes.push({
        group: 'nodes',
        data: { id: partId(primary), part: primary, label: `Identity #${primary}` },
        classes: 'part',
      })
    }
    // A ring per part as the starting point: the layout then runs from the same place every time.
    const live = part.contacts.filter((c) => !seen.has(c.id))
    live.forEach((c, i) => {
      seen.set(c.id, c)
      const emailBlocked = c.email !== null && isBlocked('email', c.email)
      const phoneBlocked = c.phoneNumber !== null && isBlocked('phoneNumber', c.phoneNumber)
      const angle = (2 * Math.PI * i) / Math.max(live.length, 1)
      const radius = 40 + 12 * live.length
      nodes.push({
        group: 'nodes',
        data: {
          id: nodeId(c.id),
          contactId: c.id,
          part: primary,
          ...(compound ? { parent: partId(primary) } : {}),
          primary: c.linkPrecedence === 'primary',
          email: c.email,
          phoneNumber: c.phoneNumber,
          emailBlocked,
          phoneBlocked,
          label: nodeLabel(c, emailBlocked, phoneBlocked),
        },
        classes: [
          'contact',
          c.linkPrecedence === 'primary' ? 'primary' : '',
          emailBlocked || phoneBlocked ? 'holds-blocked' : '',
        ]
          .filter(Boolean)
          .join(' '),
        position: { x: p * (2 * radius + 160) + radius * Math.cos(angle), y: radius * Math.sin(angle) },
      })
    })
  })

  const all = [...seen.values()].sort(byAge)
  /** @type {Record<ValueKind, Map<string, Contact[]>>} */
  const holders = { email: new Map(), phoneNumber: new Map() }
  for (const c of all) {
    for (const kind of /** @type {const} */ (['email', 'phoneNumber'])) {
      const value = c[kind]
      if (value === null) continue
      const list = holders[kind].get(value)
      if (list) list.push(c)
      else holders[kind].set(value, [c])
    }
  }
  for (const kind of /** @type {const} */ (['email', 'phoneNumber'])) {
    for (const [value, list] of holders[kind]) {
      const [hub, ...others] = list
      if (hub === undefined) continue
      const blocked = isBlocked(kind, value)
      for (const other of others) {
        edges.push({
          group: 'edges',
          data: {
            id: `${kind}:${value}:${hub.id}-${other.id}`,
            source: nodeId(hub.id),
            target: nodeId(other.id),
            kind,
            value,
            blocked,
            label: blocked ? `⊘ ${value} (blocked)` : value,
          },
          classes: `${kind === 'email' ? 'email' : 'phone'}${blocked ? ' blocked' : ''}`,
        })
      }
    }
  }
  /** @type {Set<number>} */
  const links = new Set()
  for (const part of parts) {
    for (const link of part.links) {
      if (links.has(link.id)) continue
      links.add(link.id)
      const from = holders.email.get(link.email)?.[0]
      const to = holders.phoneNumber.get(link.phoneNumber)?.[0]
      // A link whose value no live contact holds joins nothing (SPEC §6): the links table lists it.
      if (from === undefined || to === undefined || from.id === to.id) continue
      const blocked = isBlocked('email', link.email) || isBlocked('phoneNumber', link.phoneNumber)
      edges.push({
        group: 'edges',
        data: {
          id: `link:${link.id}`,
          source: nodeId(from.id),
          target: nodeId(to.id),
          kind: 'link',
          linkId: link.id,
          email: link.email,
          phoneNumber: link.phoneNumber,
          blocked,
          label: `${blocked ? '⊘ ' : ''}link ${link.email} ↔ ${link.phoneNumber}`,
        },
        classes: `link${blocked ? ' blocked' : ''}`,
      })
    }
  }
  return [...nodes, ...edges]
}

/**
 * @param {Contact} c
 * @param {boolean} emailBlocked
 * @param {boolean} phoneBlocked
 */
function nodeLabel(c, emailBlocked, phoneBlocked) {
  const lines = [`#${c.id}${c.linkPrecedence === 'primary' ? ' ★ primary' : ''}`]
  if (c.email !== null) lines.push(`${emailBlocked ? '⊘ ' : ''}${c.email}`)
  if (c.phoneNumber !== null) lines.push(`${phoneBlocked ? '⊘ ' : ''}${c.phoneNumber}`)
  return lines.join('\n')
}

/** @param {Via | undefined} via */
export function viaLabel(via) {
  if (via?.email !== undefined) return `email ${via.email}`
  if (via?.phoneNumber !== undefined) return `phone ${via.phoneNumber}`
  if (via?.link !== undefined) return `link ${via.link.email} ↔ ${via.link.phoneNumber}`
  return ''
}

/**
 * The drawn elements an explain path walks: its contacts, and for each step the edge between the
 * two contacts that names what the step shares. A step between two holders of a value that are not
 * drawn side by side (the star joins each holder to the oldest one) gets an extra edge to draw.
 *
 * @param {Step[]} path
 * @param {{ id: string, source: string, target: string, kind: string, value?: string, email?: string, phoneNumber?: string }[]} edges
 * @returns {{ nodeIds: string[], edgeIds: string[], extra: Element[] }}
 */
export function pathElements(path, edges) {
  const nodeIds = path.map((s) => nodeId(s.contactId))
  /** @type {string[]} */
  const edgeIds = []
  /** @type {Element[]} */
  const extra = []
  for (let i = 1; i < path.length; i++) {
    const a = nodeIds[i - 1]
    const b = nodeIds[i]
    const via = path[i]?.via
    if (a === undefined || b === undefined || via === undefined) continue
    const match = edges.find(
      (e) =>
        ((e.source === a && e.target === b) || (e.source === b && e.target === a)) &&
        (via.email !== undefined
          ? e.kind === 'email' && e.value === via.email
          : via.phoneNumber !== undefined
            ? e.kind === 'phoneNumber' && e.value === via.phoneNumber
            : e.kind === 'link' && e.email === via.link?.email && e.phoneNumber === via.link?.phoneNumber),
    )
    if (match) {
      edgeIds.push(match.id)
      continue
    }
    const id = `path:${i}:${a}-${b}`
    edgeIds.push(id)
    extra.push({
      group: 'edges',
      data: { id, source: a, target: b, kind: 'path', label: viaLabel(via) },
      classes: 'path-extra',
    })
  }
  return { nodeIds, edgeIds, extra }
}

/** @param {unknown} v */
const ids = (v) => (Array.isArray(v) ? v.map((x) => `#${x}`).join(', ') : '')
/** @param {unknown} e */
const pair = (e) => {
  const o = /** @type {{ email?: string, phoneNumber?: string } | undefined} */ (e)
  return o ? `${o.email ?? '(erased)'} ↔ ${o.phoneNumber ?? '(erased)'}` : ''
}

/**
 * Why an identity split: `cause` is `{ contactDeleted: id }`, `{ linkDeleted: { email, phoneNumber } }`
 * or `{ blockedValueId: id }`.
 *
 * @param {unknown} cause
 */
function causeText(cause) {
  const c = /** @type {Record<string, unknown> | null} */ (typeof cause === 'object' ? cause : null)
  if (c === null) return ''
  if (c.contactDeleted !== undefined) return ` — contact #${c.contactDeleted} was deleted`
  if (c.linkDeleted !== undefined) return ` — the link ${pair(c.linkDeleted)} was removed`
  if (c.blockedValueId !== undefined) return ` — a value was blocked (entry #${c.blockedValueId})`
  return ''
}

/**
 * A history event as a title and a line of detail, for the timeline.
 *
 * @example
 * describeEvent({ type: 'identity.split', primaryBefore: 1, primariesAfter: [1, 3], cause: { contactDeleted: 2 } })
 * // { title: 'Identity #1 split in 2', detail: 'into #1, #3 — contact #2 was deleted' }
 *
 * @param {Record<string, unknown> & { type: string }} e
 * @returns {{ title: string, detail: string }}
 */
export function describeEvent(e) {
  const value = e.erased ? '(erased)' : String(e.value ?? e.pattern ?? '')
  switch (e.type) {
    case 'contact.created': {
      const values = e.erased ? '(erased)' : [e.email, e.phoneNumber].filter((v) => v != null).join(', ')
      return {
        title: `Contact #${e.contactId} created`,
        detail: `${values} — ${e.linkedId == null ? 'a new primary' : `secondary of #${e.linkedId}`}`,
      }
    }
    case 'identity.merged': {
      const via = /** @type {Record<string, unknown> | undefined} */ (e.via)
      let how = ''
      if (via?.link) how = `via the link ${pair(via.link)}`
      else if (via?.newContact) how = `by a new contact ${pair(via.newContact)}`
      else if (via?.unblocked) {
        const u = /** @type {{ value?: string, pattern?: string }} */ (via.unblocked)
        how = `because ${u.value ?? u.pattern ?? 'a value'} was unblocked`
      }
      return { title: `#${e.mergedPrimaryId} merged into #${e.survivorId}`, detail: how }
    }
    case 'contact.deleted':
      return { title: `Contact #${e.contactId} deleted`, detail: `it was part of #${e.primaryBefore}` }
    case 'link.deleted':
      return { title: 'Link removed', detail: pair(e.link) }
    case 'identity.split': {
      const after = Array.isArray(e.primariesAfter) ? e.primariesAfter : []
      return {
        title: `Identity #${e.primaryBefore} split in ${after.length}`,
        detail: `into ${ids(after)}${causeText(e.cause)}`,
      }
    }
    case 'identity.erased':
      return { title: 'Identity erased', detail: `${e.contacts ?? '?'} contacts, ${e.links ?? '?'} links` }
    case 'value.blocked':
      return { title: `${kindName(e.kind)} blocked`, detail: `${value} — held by ${ids(e.contactIds)}` }
    case 'value.unblocked':
      return { title: `${kindName(e.kind)} unblocked`, detail: `${value} — held by ${ids(e.contactIds)}` }
    default:
      return { title: e.type, detail: ids(e.contactIds) }
  }
}

/** @param {unknown} kind */
export const kindName = (kind) => (kind === 'email' ? 'Email' : kind === 'phoneNumber' ? 'Phone number' : 'Value')
