/**
 * The panels beside the graph, drawn from the console's state: the selection (a contact or an
 * edge, with its actions), one card per identity shown (the contacts table, its links and the
 * `/identify` view), and the history timeline. Every action is a real button, so the keyboard
 * reaches everything the graph offers to the mouse.
 */
import { fill, h, when } from './dom.js'
import { describeEvent, kindName } from './model.js'

/** @typedef {import('./model.js').Identity} Identity */
/** @typedef {import('./model.js').Contact} Contact */
/** @typedef {import('./model.js').ValueKind} ValueKind */

/**
 * @typedef {{
 *   select(selection: { kind: 'contact', id: number } | null): void,
 *   deleteContact(id: number): void,
 *   eraseIdentity(primary: number): void,
 *   blockValue(kind: ValueKind, value: string): void,
 *   deleteLink(id: number): void,
 *   explainFrom(id: number): void,
 * }} Actions
 */

/**
 * `2026-11-30` over `12:01`: the table's created column stays narrow.
 *
 * @param {string} iso
 */
function dateAndTime(iso) {
  const [date, time] = when(iso, { short: true }).split(' ')
  return [h('span', { class: 'nowrap' }, date ?? ''), h('br'), h('span', { class: 'nowrap' }, time ?? '')]
}

/**
 * @param {{ parts: HTMLElement, selection: HTMLElement, historyPart: HTMLElement, historyPartLabel: HTMLElement }} els
 * @param {{ parts: Identity[], current: number, selected: any, isBlocked: import('./model.js').IsBlocked }} state
 * @param {Actions} actions
 */
export function renderIdentity(els, state, actions) {
  const value = (/** @type {ValueKind} */ kind, /** @type {string | null} */ v) =>
    v === null
      ? h('span', { class: 'muted' }, '—')
      : h(
          'span',
          {},
          v,
          state.isBlocked(kind, v) ? h('span', { class: 'badge', 'data-testid': 'blocked-badge' }, 'blocked') : null,
        )

  fill(els.selection, selectionPanel(state, actions, value))

  fill(
    els.parts,
    ...state.parts.map((part) => {
      const primary = part.contact.primaryContatctId
      const selectedId = state.selected?.kind === 'contact' ? state.selected.id : null
      return h(
        'section',
        {
          class: 'panel part',
          'aria-labelledby': `part-${primary}`,
          'data-testid': 'part',
          'data-primary': String(primary),
        },
        h(
          'div',
          { class: 'part-head' },
          h('h3', { id: `part-${primary}` }, `Identity #${primary}`),
          h(
            'span',
            { class: 'count' },
            `${part.contacts.length} contact${part.contacts.length === 1 ? '' : 's'}, ${part.links.length} link${part.links.length === 1 ? '' : 's'}`,
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              'data-testid': 'erase-identity',
              onclick: () => actions.eraseIdentity(primary),
            },
            'Erase identity…',
          ),
        ),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { 'data-testid': 'contacts-table' },
            h('caption', { class: 'visually-hidden' }, `Contacts of identity #${primary}, oldest first`),
            h(
              'thead',
              {},
              h('tr', {}, ...['Contact', 'Email', 'Phone', 'Created', ''].map((t) => h('th', { scope: 'col' }, t))),
            ),
            h(
              'tbody',
              {},
              ...part.contacts.map((c) =>
                h(
                  'tr',
                  { 'data-contact-id': String(c.id), class: c.id === selectedId ? 'selected' : null },
                  h(
                    'td',
                    {},
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'link-button',
                        'data-testid': 'select-contact',
                        'aria-label': `Select contact #${c.id}`,
                        onclick: () => actions.select({ kind: 'contact', id: c.id }),
                      },
                      `#${c.id}`,
                    ),
                    c.linkPrecedence === 'primary' ? h('span', { class: 'badge primary' }, 'primary') : null,
                  ),
                  h('td', { class: 'value' }, value('email', c.email)),
                  h('td', { class: 'value' }, value('phoneNumber', c.phoneNumber)),
                  h(
                    'td',
                    {},
                    h('time', { datetime: c.createdAt, title: when(c.createdAt) }, ...dateAndTime(c.createdAt)),
                  ),
                  h(
                    'td',
                    {},
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary',
                        'data-testid': 'delete-contact',
                        'aria-label': `Delete contact #${c.id}`,
                        onclick: () => actions.deleteContact(c.id),
                      },
                      'Delete',
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
        part.links.length === 0
          ? null
          : h(
              'details',
              {},
              h('summary', {}, `Links (${part.links.length}): the evidence of merges`),
              h(
                'ul',
                { 'data-testid': 'links' },
                ...part.links.map((l) =>
                  h(
                    'li',
                    {},
                    `${l.email} ↔ ${l.phoneNumber} `,
                    h('time', { datetime: l.createdAt, class: 'muted' }, when(l.createdAt)),
                    ' ',
                    h(
                      'button',
                      { type: 'button', class: 'secondary', onclick: () => actions.deleteLink(l.id) },
                      'Remove link',
                    ),
                  ),
                ),
              ),
            ),
        h(
          'details',
          {},
          h('summary', {}, 'What /identify answers'),
          h('pre', { 'data-testid': 'identify-view' }, JSON.stringify({ contact: part.contact }, null, 2)),
        ),
      )
    }),
  )

  els.historyPartLabel.hidden = state.parts.length < 2
  fill(
    els.historyPart,
    ...state.parts.map((p, i) =>
      h('option', { value: String(i), selected: i === state.current }, `#${p.contact.primaryContatctId}`),
    ),
  )
}

/**
 * @param {{ parts: Identity[], selected: any, isBlocked: import('./model.js').IsBlocked }} state
 * @param {Actions} actions
 * @param {(kind: ValueKind, v: string | null) => HTMLElement} value
 */
function selectionPanel(state, actions, value) {
  const sel = state.selected
  if (sel === null) {
    return h('p', { class: 'muted' }, 'Click a contact or an edge on the graph, or a contact id in a table.')
  }
  if (sel.kind === 'contact') {
    const c = /** @type {Contact | undefined} */ (state.parts.flatMap((p) => p.contacts).find((x) => x.id === sel.id))
    if (c === undefined) return h('p', {}, 'That contact is no longer shown.')
    const blockButton = (/** @type {ValueKind} */ kind) => {
      const v = c[kind]
      if (v === null || state.isBlocked(kind, v)) return null
      return h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'data-testid': `block-${kind}`,
          onclick: () => actions.blockValue(kind, v),
        },
        `Block ${kindName(kind).toLowerCase()}…`,
      )
    }
    return h(
      'div',
      { 'data-testid': 'selected-contact', 'data-contact-id': String(c.id) },
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Contact'),
        h('dd', {}, `#${c.id} (${c.linkPrecedence}${c.linkedId === null ? '' : ` of #${c.linkedId}`})`),
        h('dt', {}, 'Email'),
        h('dd', {}, value('email', c.email)),
        h('dt', {}, 'Phone'),
        h('dd', {}, value('phoneNumber', c.phoneNumber)),
        h('dt', {}, 'Created'),
        h('dd', {}, when(c.createdAt)),
        h('dt', {}, 'Updated'),
        h('dd', {}, when(c.updatedAt)),
      ),
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'data-testid': 'delete-selected',
            onclick: () => actions.deleteContact(c.id),
          },
          'Delete contact…',
        ),
        blockButton('email'),
        blockButton('phoneNumber'),
        h(
          'button',
          { type: 'button', class: 'secondary', onclick: () => actions.explainFrom(c.id) },
          'Explain from here',
        ),
      ),
    )
  }
  const d = sel.data
  const ends = `#${String(d.source).slice(1)} and #${String(d.target).slice(1)}`
  if (d.kind === 'link') {
    return h(
      'div',
      { 'data-testid': 'selected-edge' },
      h(
        'p',
        {},
        `A link — the evidence of a merge — joins ${ends}: ${d.email} ↔ ${d.phoneNumber}${d.blocked ? ' (blocked: joins nothing)' : ''}.`,
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'danger', onclick: () => actions.deleteLink(d.linkId) }, 'Remove link…'),
      ),
    )
  }
  if (d.kind === 'email' || d.kind === 'phoneNumber') {
    return h(
      'div',
      { 'data-testid': 'selected-edge' },
      h(
        'p',
        {},
        `${ends} share the ${kindName(d.kind).toLowerCase()} ${d.value}${d.blocked ? ' — blocked: it joins nothing' : ''}.`,
      ),
      d.blocked
        ? null
        : h(
            'div',
            { class: 'actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'danger',
                'data-testid': 'block-edge',
                onclick: () => actions.blockValue(d.kind, d.value),
              },
              'Block this value…',
            ),
          ),
    )
  }
  return h('p', {}, String(d.label ?? ''))
}

/**
 * @param {HTMLElement} list the <ol>
 * @param {(Record<string, unknown> & { type: string, id: number, at: string, requestId: string | null })[]} events
 */
export function renderTimeline(list, events) {
  fill(
    list,
    ...(events.length === 0 ? [h('li', {}, 'No events.')] : []),
    ...events.map((e) => {
      const { title, detail } = describeEvent(e)
      return h(
        'li',
        { 'data-type': e.type, 'data-event-id': String(e.id), 'data-testid': 'event' },
        h('time', { datetime: e.at }, when(e.at)),
        h('strong', {}, title),
        detail ? h('span', { class: 'detail' }, detail) : null,
        e.requestId ? h('span', { class: 'request' }, `request ${e.requestId}`) : null,
      )
    }),
  )
}
