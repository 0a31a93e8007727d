/**
 * The hubs page: the values held by the most contacts and the largest identities (each opens in
 * the graph), and the block list with its entries. Blocking and unblocking are the caller's
 * actions, confirmed in a dialog there.
 */
import { fill, h, when } from './dom.js'
import { kindName } from './model.js'

/** @typedef {import('./model.js').ValueKind} ValueKind */
/** @typedef {import('./blocked.js').BlockedValue} BlockedValue */

/**
 * @param {{ values: HTMLElement, identities: HTMLElement, blocklist: HTMLElement }} els
 * @param {{ values: { kind: ValueKind, value: string, contacts: number, blocked: boolean }[],
 *   identities: { primaryContatctId: number, contacts: number }[] }} hubs
 * @param {BlockedValue[]} blocked
 * @param {{ open(kind: ValueKind, value: string): void, block(kind: ValueKind, value: string): void,
 *   unblock(entry: BlockedValue): void }} actions
 */
export function renderHubs(els, hubs, blocked, actions) {
  const table = (/** @type {string} */ testid, /** @type {string[]} */ head, /** @type {HTMLElement[]} */ rows) =>
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { 'data-testid': testid },
        h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...rows),
      ),
    )

  // A value held by one contact joins nobody: listing it would only hide the hubs.
  const shared = hubs.values.filter((v) => v.contacts > 1)
  fill(
    els.values,
    shared.length === 0
      ? h('p', {}, 'No value is held by more than one contact.')
      : table(
          'hub-values-table',
          ['Value', 'Kind', 'Contacts', ''],
          shared.map((v) =>
            h(
              'tr',
              { 'data-value': v.value, 'data-kind': v.kind },
              h(
                'td',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'link-button',
                    'data-testid': 'open-hub-value',
                    'aria-label': `Open the identity holding ${v.value}`,
                    onclick: () => actions.open(v.kind, v.value),
                  },
                  v.value,
                ),
                v.blocked ? h('span', { class: 'badge' }, 'blocked') : null,
              ),
              h('td', {}, kindName(v.kind)),
              h('td', {}, String(v.contacts)),
              h(
                'td',
                {},
                v.blocked
                  ? null
                  : h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary',
                        'data-testid': 'block-hub-value',
                        'aria-label': `Block ${v.value}`,
                        onclick: () => actions.block(v.kind, v.value),
                      },
                      'Block…',
                    ),
              ),
            ),
          ),
        ),
  )

  fill(
    els.identities,
    hubs.identities.length === 0
      ? h('p', {}, 'No identities yet.')
      : table(
          'hub-identities-table',
          ['Identity', 'Contacts'],
          hubs.identities.map((i) =>
            h(
              'tr',
              {},
              h(
                'td',
                {},
                h(
                  'a',
                  { href: `#/identity/${i.primaryContatctId}`, 'data-testid': 'open-hub-identity' },
                  `#${i.primaryContatctId}`,
                ),
              ),
              h('td', {}, String(i.contacts)),
            ),
          ),
        ),
  )

  fill(
    els.blocklist,
    blocked.length === 0
      ? h('p', {}, 'Nothing is blocked.')
      : table(
          'blocklist-table',
          ['Entry', 'Kind', 'Since', ''],
          blocked.map((b) =>
            h(
              'tr',
              { 'data-blocked-id': String(b.id) },
              h(
                'td',
                {},
                b.value ?? h('code', {}, b.pattern ?? ''),
                b.builtin ? h('span', { class: 'badge primary' }, 'built-in') : null,
              ),
              h('td', {}, `${kindName(b.kind)}${b.pattern !== undefined ? ' pattern' : ''}`),
              h('td', {}, when(b.createdAt)),
              h(
                'td',
                {},
                h(
                  'button',
                  { type: 'button', class: 'secondary', 'data-testid': 'unblock', onclick: () => actions.unblock(b) },
                  'Unblock…',
                ),
              ),
            ),
          ),
        ),
  )
}
