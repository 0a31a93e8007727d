/**
 * The console's entry: sign-in, the hash router (`#/identity/1,3` shows identities by contact id,
 * `#/hubs` the hubs page; no value and never the key in a URL), the status line with its states
 * (loading, not found, unauthorised, operator API off, storage unavailable), and the operator's
 * actions, each confirmed in a dialog and followed by the regrouped identities.
 */
import { ApiError, api, mapLimit, session } from './api.js'
import { blockedPredicate } from './blocked.js'
import { confirmAction } from './dialog.js'
import { fill, h } from './dom.js'
import { createGraph } from './graph.js'
import { renderHubs } from './hubs.js'
import { classifyQuery, kindName } from './model.js'
import { renderIdentity, renderTimeline } from './views.js'

/** @typedef {import('./model.js').Identity} Identity */
/** @typedef {import('./model.js').ValueKind} ValueKind */
/** @typedef {import('./blocked.js').BlockedValue} BlockedValue */

/** At most this many identities are fetched and drawn after an action splits one into many. */
const MAX_PARTS = 40

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))
const $input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id))
const $select = (/** @type {string} */ id) => /** @type {HTMLSelectElement} */ (document.getElementById(id))

/**
 * @typedef {{ kind: 'contact', id: number } | { kind: 'edge', data: Record<string, any> }} Selection
 */
const state = {
  /** @type {BlockedValue[]} */
  blocked: [],
  /** @type {import('./model.js').IsBlocked} */
  isBlocked: () => false,
  /** @type {Identity[]} */
  parts: [],
  /** Index in `parts` of the identity whose history is shown. */
  current: 0,
  /** @type {Selection | null} */
  selected: null,
  /** @type {null | 'from' | 'to'} */
  picking: null,
  /** @type {{ hash: string, parts: Identity[], notice: Notice | null } | null} */
  preloaded: null,
  /** @type {Notice | null} */
  notice: null,
  /** @type {{ events: any[], next: number | null, contactId: number }} */
  history: { events: [], next: null, contactId: 0 },
}

/** @typedef {{ text: string, primaries?: number[] }} Notice */

/** @type {ReturnType<typeof createGraph> | null} */
let graph = null

// ——— status and errors ————————————————————————————————————————————————————————————————

/**
 * @param {'idle' | 'loading' | 'ready' | 'not-found' | 'unavailable' | 'error' | 'unauthorised' | 'disabled'} kind
 * @param {string} message
 * @param {(() => void) | undefined} [retry]
 */
function setStatus(kind, message, retry) {
  const el = $('status')
  el.dataset.state = kind
  el.hidden = message === ''
  if (kind === 'loading') document.body.setAttribute('aria-busy', 'true')
  else document.body.removeAttribute('aria-busy')
  fill(
    el,
    message,
    retry ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'retry', onclick: retry }, 'Retry') : null,
  )
}

/**
 * Turns a failure into the state it means. 401: the key is wrong or was revoked, back to sign-in;
 * 403: the operator API is off on this service; 503 or no answer: storage or service down, retry.
 *
 * @param {unknown} err
 * @param {() => void} retry
 */
function fail(err, retry) {
  if (!(err instanceof ApiError)) {
    console.error(err)
    setStatus('error', `Something went wrong in the console: ${String(err)}`)
    return
  }
  if (err.status === 401) {
    session.signOut()
    showSignIn('unauthorised', 'The service refused this operator key (401 ERR_UNAUTHORIZED).')
    return
  }
  if (err.code === 'ERR_OPERATOR_API_DISABLED') {
    session.signOut()
    showSignIn('disabled', `The operator API is off on this service (403): ${err.message}.`)
    return
  }
  if (err.status === 503 || err.status === 0) {
    setStatus(
      'unavailable',
      err.status === 503
        ? `Storage unavailable (503 ${err.code}): the service cannot reach its database. Nothing was changed; retry when /readyz answers.`
        : `The service did not answer: ${err.message}`,
      retry,
    )
    return
  }
  if (err.status === 404) {
    setStatus('not-found', `Not found: ${err.message}.`)
    return
  }
  setStatus('error', `${err.message} (${err.status} ${err.code})`)
}

// ——— sign-in ———————————————————————————————————————————————————————————————————————————

/**
 * @param {'unauthorised' | 'disabled' | null} [why]
 * @param {string} [message]
 */
function showSignIn(why = null, message = '') {
  for (const id of ['identity-view', 'hubs-view']) $(id).hidden = true
  for (const id of ['nav', 'search-form', 'sign-out']) $(id).hidden = true
  $('signin-view').hidden = false
  const error = $('signin-error')
  error.hidden = why === null
  if (why !== null) {
    fill(
      error,
      h('strong', {}, why === 'disabled' ? 'Operator API disabled. ' : 'Unauthorised. '),
      message,
      ' ',
      why === 'disabled'
        ? 'Set ADMIN_API_KEYS on the service and restart it (see below).'
        : 'Use one of the keys in the service’s ADMIN_API_KEYS (see below).',
    )
    setStatus(why, why === 'disabled' ? 'The operator API is disabled.' : 'Unauthorised: sign in with an operator key.')
  } else {
    setStatus('idle', '')
  }
  $('key-input').focus()
}

async function signIn(/** @type {string} */ key) {
  setStatus('loading', 'Checking the key…')
  try {
    // Any operator route checks the key; the block list is needed anyway.
    const { blockedValues } = await api('GET', '/blocked-values', { key })
    session.signIn(key)
    setBlocked(blockedValues)
    $input('key-input').value = ''
    await route()
    $('search-input').focus()
  } catch (err) {
    fail(err, () => void signIn(key))
  }
}

/** @param {BlockedValue[]} entries */
function setBlocked(entries) {
  state.blocked = entries
  state.isBlocked = blockedPredicate(entries)
}

async function refreshBlocked() {
  setBlocked((await api('GET', '/blocked-values')).blockedValues)
}

// ——— routing ——————————————————————————————————————————————————————————————————————————

async function route() {
  if (session.key === null) {
    showSignIn()
    return
  }
  $('signin-view').hidden = true
  for (const id of ['nav', 'search-form', 'sign-out']) $(id).hidden = false
  const hash = location.hash
  const view = hash === '#/hubs' ? 'hubs' : 'identity'
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  $('identity-view').hidden = view !== 'identity'
  $('hubs-view').hidden = view !== 'hubs'
  if (view === 'hubs') return showHubs()
  const match = /^#\/identity\/(\d+(?:,\d+)*)$/.exec(hash)
  return showIdentities(match?.[1] ? match[1].split(',').map(Number) : [])
}

/**
 * Shows identities — already fetched by the action that led here, or by contact id from the URL.
 *
 * @param {number[]} contactIds
 */
async function showIdentities(contactIds) {
  const pre = state.preloaded
  state.preloaded = null
  if (pre !== null && pre.hash === location.hash) {
    state.parts = pre.parts
    state.notice = pre.notice
  } else if (contactIds.length === 0) {
    state.parts = []
  } else {
    setStatus('loading', 'Loading the identity…')
    try {
      state.parts = await loadParts(contactIds)
      state.notice = null
    } catch (err) {
      state.parts = []
      drawIdentity()
      fail(err, () => void route())
      return
    }
    if (state.parts.length === 0) {
      drawIdentity()
      setStatus('not-found', `Not found: no live contact #${contactIds.join(', #')} (deleted or erased?).`)
      return
    }
  }
  state.current = 0
  state.selected = null
  state.picking = null
  drawIdentity()
  if (state.parts.length > 0) {
    const n = state.parts.reduce((sum, p) => sum + p.contacts.length, 0)
    const what =
      state.parts.length === 1
        ? `identity #${state.parts[0]?.contact.primaryContatctId}`
        : `${state.parts.length} identities`
    setStatus('ready', `Showing ${what}: ${n} contact${n === 1 ? '' : 's'}.`)
    await loadHistory(true)
  } else if (state.notice === null) {
    setStatus('idle', '')
  } else {
    setStatus('ready', state.notice.text)
  }
}

/**
 * The identities holding these contacts, each fetched once (a contact already in a fetched part
 * is skipped), oldest primary first. Contacts no longer live are left out.
 *
 * @param {number[]} contactIds
 * @returns {Promise<Identity[]>}
 */
async function loadParts(contactIds) {
  /** @type {Identity[]} */
  const parts = []
  const covered = new Set()
  const queue = [...new Set(contactIds)]
  while (queue.length > 0 && parts.length < MAX_PARTS) {
    const batch = queue.splice(0, 6).filter((id) => !covered.has(id))
    const found = await mapLimit(batch, 6, async (id) => {
      try {
        return /** @type {Identity} */ (await api('GET', `/identities/${id}`))
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null
        throw err
      }
    })
    for (const identity of found) {
      if (identity === null || covered.has(identity.contact.primaryContatctId)) continue
      parts.push(identity)
      for (const c of identity.contacts) covered.add(c.id)
    }
  }
  const primaryOf = (/** @type {Identity} */ p) =>
    p.contacts.find((c) => c.linkPrecedence === 'primary') ?? p.contacts[0]
  return parts.sort((a, b) => {
    const x = primaryOf(a)
    const y = primaryOf(b)
    return (x?.createdAt ?? '').localeCompare(y?.createdAt ?? '') || (x?.id ?? 0) - (y?.id ?? 0)
  })
}

/**
 * Navigates to these identities without fetching them again.
 *
 * @param {Identity[]} parts
 * @param {Notice | null} notice
 */
function openParts(parts, notice) {
  const hash = parts.length === 0 ? '#/' : `#/identity/${parts.map((p) => p.contact.primaryContatctId).join(',')}`
  state.preloaded = { hash, parts, notice }
  if (location.hash === hash) void route()
  else location.hash = hash
}

// ——— search ———————————————————————————————————————————————————————————————————————————

/** @param {string} raw */
async function search(raw) {
  const q = classifyQuery(raw)
  if (q === null) return
  setStatus('loading', 'Searching…')
  const byValue = (/** @type {ValueKind} */ kind, /** @type {string} */ v) =>
    api('GET', `/identities?${kind}=${encodeURIComponent(v)}`)
  try {
    /** @type {Identity} */
    let found
    /** @type {Notice | null} */
    let notice = null
    if (q.kind === 'email' || q.kind === 'phoneNumber') found = await byValue(q.kind, q.value)
    else if (q.kind === 'id') found = await api('GET', `/identities/${q.value}`)
    else {
      // Bare digits: a phone number or a contact id. Ask both; prefer the phone number, and say
      // when the id names someone else.
      const [phone, id] = await Promise.allSettled([
        byValue('phoneNumber', q.value),
        api('GET', `/identities/${q.value}`),
      ])
      for (const r of [phone, id]) {
        if (r.status === 'rejected' && !(r.reason instanceof ApiError && r.reason.status === 404)) throw r.reason
      }
      if (phone.status === 'fulfilled') {
        found = phone.value
        if (id.status === 'fulfilled' && id.value.contact.primaryContatctId !== found.contact.primaryContatctId) {
          notice = {
            text: `${q.value} is this identity’s phone number; contact #${q.value} belongs to another identity.`,
            primaries: [id.value.contact.primaryContatctId],
          }
        }
      } else if (id.status === 'fulfilled') {
        found = id.value
      } else {
        throw new ApiError(
          404,
          'ERR_NOT_FOUND',
          `nobody holds the phone number ${q.value}, and there is no live contact #${q.value}`,
        )
      }
    }
    const others = found.otherIdentities ?? []
    if (others.length > 0) {
      // A blocked value joins nobody, so several identities may hold it: show them all.
      notice = {
        text: `${q.value} is blocked, so it joins nobody: ${others.length + 1} identities hold it.`,
        primaries: others,
      }
      openParts(await loadParts([found.contact.primaryContatctId, ...others]), notice)
    } else {
      openParts([found], notice)
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      state.parts = []
      state.notice = null
      if (location.hash !== '#/' && location.hash !== '') {
        state.preloaded = { hash: '#/', parts: [], notice: null }
        history.replaceState(null, '', '#/')
      }
      drawIdentity()
    }
    fail(err, () => void search(raw))
  }
}

// ——— the identity view ————————————————————————————————————————————————————————————————

function ensureGraph() {
  if (graph !== null) return graph
  graph = createGraph($('graph'), {
    onContact(id) {
      if (state.picking !== null) return pick(id)
      select({ kind: 'contact', id })
    },
    onEdge(data) {
      if (state.picking === null) select({ kind: 'edge', data })
    },
    onBackground() {
      if (state.picking === null) select(null)
    },
  })
  return graph
}

function drawIdentity() {
  const has = state.parts.length > 0
  $('identity-empty').hidden = has
  $('identity-layout').hidden = !has
  drawNotice()
  if (!has) return
  const g = ensureGraph()
  g.show(state.parts, state.isBlocked)
  drawPanels()
  fillExplainSelects()
  $('explain-result').replaceChildren()
  $('explain-result').removeAttribute('data-state')
  setPicking(null)
}

function drawNotice() {
  const el = $('notice')
  const n = state.notice
  el.hidden = n === null
  if (n === null) return
  fill(
    el,
    n.text,
    ...(n.primaries ?? []).flatMap((p) => [
      ' ',
      h('a', { href: `#/identity/${p}`, 'data-testid': 'notice-link' }, `Open #${p}`),
    ]),
  )
}

function drawPanels() {
  renderIdentity(
    {
      parts: $('parts'),
      selection: $('selection-body'),
      historyPart: $('history-part'),
      historyPartLabel: $('history-part-label'),
    },
    state,
    {
      select,
      deleteContact,
      eraseIdentity,
      blockValue: (kind, value) => blockValue(kind, value, true),
      deleteLink,
      explainFrom(id) {
        $select('explain-from').value = String(id)
        setPicking('to')
      },
    },
  )
}

/** @param {Selection | null} selection */
function select(selection) {
  state.selected = selection
  graph?.select(selection?.kind === 'contact' ? selection.id : null)
  if (selection?.kind === 'edge') graph?.cy.getElementById(selection.data.id).select()
  drawPanels()
}

// ——— explain ———————————————————————————————————————————————————————————————————————————

function fillExplainSelects() {
  const options = state.parts.flatMap((p) =>
    p.contacts.map((c) => h('option', { value: String(c.id) }, `#${c.id} ${c.email ?? c.phoneNumber ?? ''}`)),
  )
  const from = $select('explain-from')
  const to = $select('explain-to')
  fill(from, ...options.map((o) => o.cloneNode(true)))
  fill(to, ...options)
  if (to.options.length > 1) to.selectedIndex = to.options.length - 1
}

/** @param {null | 'from' | 'to'} mode */
function setPicking(mode) {
  state.picking = mode
  const button = $('pick-on-graph')
  button.setAttribute('aria-pressed', String(mode !== null))
  button.textContent =
    mode === null ? 'Pick two on the graph' : mode === 'from' ? 'Click the first contact…' : 'Click the second contact…'
}

/** @param {number} id */
function pick(id) {
  $select(state.picking === 'from' ? 'explain-from' : 'explain-to').value = String(id)
  graph?.select(id)
  if (state.picking === 'from') setPicking('to')
  else {
    setPicking(null)
    void explain()
  }
}

async function explain() {
  const from = $select('explain-from').value
  const to = $select('explain-to').value
  const out = $('explain-result')
  if (from === '' || to === '') return
  out.dataset.state = 'loading'
  fill(out, 'Explaining…')
  try {
    const { path } = await api('GET', `/identities/${from}/explain?to=${to}`)
    graph?.highlight(path)
    out.dataset.state = 'highlighted'
    fill(
      out,
      h(
        'strong',
        {},
        `#${from} and #${to} are one identity through ${path.length - 1} step${path.length === 2 ? '' : 's'}:`,
      ),
      h(
        'ol',
        { 'data-testid': 'explain-path' },
        ...path.map((/** @type {import('./model.js').Step} */ s, /** @type {number} */ i) =>
          h('li', {}, `#${s.contactId}`, i === 0 ? '' : ` — shares ${viaText(s.via)} with #${path[i - 1].contactId}`),
        ),
      ),
    )
  } catch (err) {
    graph?.clearHighlight()
    out.dataset.state = 'error'
    if (err instanceof ApiError && (err.status === 409 || err.status === 404 || err.status === 400)) {
      fill(out, err.status === 409 ? `#${from} and #${to} are not one identity: nothing joins them.` : err.message)
    } else {
      out.replaceChildren()
      fail(err, () => void explain())
    }
  }
}

/** @param {import('./model.js').Via | undefined} via */
function viaText(via) {
  if (via?.email !== undefined) return `the email ${via.email}`
  if (via?.phoneNumber !== undefined) return `the phone number ${via.phoneNumber}`
  if (via?.link !== undefined) return `a link (${via.link.email} ↔ ${via.link.phoneNumber}, from a merge)`
  return 'nothing'
}

// ——— history ——————————————————————————————————————————————————————————————————————————

/** @param {boolean} reset */
async function loadHistory(reset) {
  const part = state.parts[state.current]
  if (part === undefined) return
  const contactId = part.contact.primaryContatctId
  if (reset) state.history = { events: [], next: null, contactId }
  const size = $select('history-page-size').value
  const after = reset ? '' : `&after=${state.history.next ?? ''}`
  const more = $('history-more')
  more.toggleAttribute('disabled', true)
  try {
    const page = await api('GET', `/identities/${contactId}/history?limit=${size}${after}`)
    if (state.history.contactId !== contactId) return
    state.history.events.push(...page.events)
    state.history.next = page.next
    renderTimeline($('timeline'), state.history.events)
    more.hidden = page.next === null
  } catch (err) {
    fail(err, () => void loadHistory(reset))
  } finally {
    more.toggleAttribute('disabled', false)
  }
}

// ——— actions ——————————————————————————————————————————————————————————————————————————

const contactById = (/** @type {number} */ id) => state.parts.flatMap((p) => p.contacts).find((c) => c.id === id)
const partOf = (/** @type {number} */ id) => state.parts.find((p) => p.contacts.some((c) => c.id === id))
const others = (/** @type {Identity | undefined} */ part) =>
  state.parts.filter((p) => p !== part).map((p) => p.contact.primaryContatctId)

/**
 * After a change: the identities now holding `contactIds`, shown with a notice naming them.
 *
 * @param {number[]} contactIds
 * @param {(parts: Identity[]) => string} say
 */
async function regroupAndShow(contactIds, say) {
  const parts = await loadParts(contactIds)
  const capped = parts.length >= MAX_PARTS ? ` Only the first ${MAX_PARTS} are drawn; search for the others.` : ''
  openParts(parts, { text: say(parts) + capped })
  $('notice').focus()
}

const list = (/** @type {Identity[]} */ parts) => parts.map((p) => `#${p.contact.primaryContatctId}`).join(', ')

/** @param {number} id */
async function deleteContact(id) {
  const c = contactById(id)
  const part = partOf(id)
  const ok = await confirmAction({
    title: `Delete contact #${id}?`,
    body: [
      [c?.email, c?.phoneNumber].filter(Boolean).join(' · '),
      'The contact stops matching and leaves every answer (its history stays). What it joined is regrouped: if it was a bridge, the identity splits and each part is shown.',
    ],
    confirmLabel: 'Delete contact',
  })
  if (!ok) return
  setStatus('loading', `Deleting contact #${id}…`)
  try {
    const { identities } = await api('DELETE', `/contacts/${id}`)
    const before = part?.contact.primaryContatctId
    const remaining = identities.map((/** @type {{ primaryContatctId: number }} */ v) => v.primaryContatctId)
    await regroupAndShow([...remaining, ...others(part)], (parts) =>
      remaining.length > 1
        ? `Contact #${id} deleted: identity #${before} split into ${remaining.length} identities (${list(parts)}).`
        : remaining.length === 1
          ? `Contact #${id} deleted; identity #${remaining[0]} remains whole.`
          : `Contact #${id} deleted: it was its identity’s last contact.`,
    )
  } catch (err) {
    fail(err, () => void deleteContact(id))
  }
}

/** @param {number} id a link id */
async function deleteLink(id) {
  const link = state.parts.flatMap((p) => p.links).find((l) => l.id === id)
  const ok = await confirmAction({
    title: 'Remove this link?',
    body: [
      `${link?.email} ↔ ${link?.phoneNumber}`,
      'A link is the evidence of a merge. Removing it undoes that merge: contacts it alone joined come apart.',
    ],
    confirmLabel: 'Remove link',
  })
  if (!ok) return
  setStatus('loading', 'Removing the link…')
  try {
    const { identities } = await api('DELETE', `/links/${id}`)
    const shown = state.parts.flatMap((p) => p.contacts.map((c) => c.id))
    await regroupAndShow(
      [...identities.map((/** @type {{ primaryContatctId: number }} */ v) => v.primaryContatctId), ...shown],
      (parts) => `Link removed: ${parts.length} identit${parts.length === 1 ? 'y' : 'ies'} (${list(parts)}).`,
    )
  } catch (err) {
    fail(err, () => void deleteLink(id))
  }
}

/** @param {number} primary */
async function eraseIdentity(primary) {
  const part = partOf(primary)
  const ok = await confirmAction({
    title: `Erase identity #${primary} for good?`,
    body: [
      `For a privacy request: its ${part?.contacts.length ?? ''} contacts (with deleted ones that were last part of it) and its links are removed from the database, and every email and phone number is scrubbed from its history. This cannot be undone.`,
    ],
    confirmLabel: 'Erase for good',
    typeToConfirm: String(primary),
  })
  if (!ok) return
  setStatus('loading', `Erasing identity #${primary}…`)
  try {
    const { erasedContactIds } = await api('DELETE', `/identities/${primary}`)
    const rest = state.parts.filter((p) => p !== part)
    openParts(rest, {
      text: `Identity #${primary} erased: contacts #${erasedContactIds.join(', #')} are gone for good.`,
    })
    $('notice').focus()
  } catch (err) {
    fail(err, () => void eraseIdentity(primary))
  }
}

/**
 * Blocks a value and shows what it joined, regrouped: the contacts holding it (found before the
 * block, when they were still one identity) and, from the identity view, everything on screen.
 *
 * @param {ValueKind} kind
 * @param {string} value
 * @param {boolean} keepShown
 */
async function blockValue(kind, value, keepShown) {
  const ok = await confirmAction({
    title: `Block the ${kindName(kind).toLowerCase()} ${value}?`,
    body: [
      'A blocked value counts as absent in /identify and joins nothing: the identities it bridged come apart now. Contacts keep it and answers still list it. Unblock it from the Hubs page to join them again.',
    ],
    confirmLabel: 'Block value',
  })
  if (!ok) return
  setStatus('loading', `Blocking ${value}…`)
  try {
    /** @type {number[]} */
    let holders = []
    try {
      const before = /** @type {Identity} */ (await api('GET', `/identities?${kind}=${encodeURIComponent(value)}`))
      holders = before.contacts.filter((c) => c[kind] === value).map((c) => c.id)
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err
    }
    const entry = await api('POST', '/blocked-values', { body: { kind, value } })
    await refreshBlocked()
    const shown = keepShown ? state.parts.flatMap((p) => p.contacts.map((c) => c.id)) : []
    const ids = [...holders, ...shown]
    if (ids.length === 0) {
      setStatus('ready', `Blocked ${entry.value}: no live contact holds it.`)
      if (location.hash === '#/hubs') await showHubs()
      return
    }
    await regroupAndShow(ids, (parts) =>
      parts.length > 1
        ? `Blocked ${entry.value}: what it joined is now ${parts.length} identities (${list(parts)}).`
        : `Blocked ${entry.value}: it joined nothing else.`,
    )
  } catch (err) {
    fail(err, () => void blockValue(kind, value, keepShown))
  }
}

/** @param {BlockedValue} entry */
async function unblock(entry) {
  const ok = await confirmAction({
    title: `Unblock ${entry.value ?? entry.pattern}?`,
    body: ['The identities it bridged join again, as if it had never been blocked.'],
    confirmLabel: 'Unblock',
  })
  if (!ok) return
  setStatus('loading', 'Unblocking…')
  try {
    const { identities } = await api('DELETE', `/blocked-values/${entry.id}`)
    await refreshBlocked()
    await showHubs()
    const primaries = identities.map((/** @type {{ primaryContatctId: number }} */ v) => v.primaryContatctId)
    setStatus(
      'ready',
      `Unblocked ${entry.value ?? entry.pattern}${primaries.length ? `: joined again in #${primaries.join(', #')}` : ''}.`,
    )
  } catch (err) {
    fail(err, () => void unblock(entry))
  }
}

/** @param {ValueKind} kind @param {string} value @param {boolean} pattern */
async function blockFromForm(kind, value, pattern) {
  if (!pattern) return blockValue(kind, value, false)
  const ok = await confirmAction({
    title: `Block every ${kindName(kind).toLowerCase()} matching ${value}?`,
    body: [
      'An RE2 pattern, searched in normalised values (anchor it with ^ and $ for whole values). Identities its values bridged come apart.',
    ],
    confirmLabel: 'Block pattern',
  })
  if (!ok) return
  try {
    await api('POST', '/blocked-values', { body: { kind, pattern: value } })
    await refreshBlocked()
    await showHubs()
    setStatus('ready', `Blocked the pattern ${value}.`)
  } catch (err) {
    fail(err, () => void blockFromForm(kind, value, pattern))
  }
}

// ——— hubs ————————————————————————————————————————————————————————————————————————————

async function showHubs() {
  setStatus('loading', 'Loading hubs…')
  try {
    const [hubs] = await Promise.all([api('GET', '/insights/hubs?limit=20'), refreshBlocked()])
    renderHubs(
      { values: $('hub-values'), identities: $('hub-identities'), blocklist: $('blocklist') },
      hubs,
      state.blocked,
      {
        open: openValue,
        block: (kind, value) => blockValue(kind, value, false),
        unblock,
      },
    )
    const shared = hubs.values.filter((/** @type {{ contacts: number }} */ v) => v.contacts > 1).length
    setStatus(
      'ready',
      `Hubs: ${shared} shared value${shared === 1 ? '' : 's'}, the ${hubs.identities.length} largest identities.`,
    )
  } catch (err) {
    fail(err, () => void showHubs())
  }
}

/** @param {ValueKind} kind @param {string} value */
async function openValue(kind, value) {
  setStatus('loading', `Opening ${value}…`)
  try {
    const found = await api('GET', `/identities?${kind}=${encodeURIComponent(value)}`)
    openParts([found], null)
  } catch (err) {
    fail(err, () => void openValue(kind, value))
  }
}

// ——— wiring ——————————————————————————————————————————————————————————————————————————

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const key = $input('key-input').value.trim()
  if (key !== '') void signIn(key)
})
$('sign-out').addEventListener('click', () => {
  session.signOut()
  state.parts = []
  showSignIn()
})
$('search-form').addEventListener('submit', (e) => {
  e.preventDefault()
  void search($input('search-input').value)
})
$('explain-form').addEventListener('submit', (e) => {
  e.preventDefault()
  setPicking(null)
  void explain()
})
$('pick-on-graph').addEventListener('click', () => setPicking(state.picking === null ? 'from' : null))
$('explain-clear').addEventListener('click', () => {
  setPicking(null)
  graph?.clearHighlight()
  $('explain-result').replaceChildren()
  $('explain-result').removeAttribute('data-state')
})
$('history-more').addEventListener('click', () => void loadHistory(false))
$('history-page-size').addEventListener('change', () => void loadHistory(true))
$('history-part').addEventListener('change', (e) => {
  state.current = Number(/** @type {HTMLSelectElement} */ (e.target).value)
  void loadHistory(true)
})
$('block-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const kind = /** @type {ValueKind} */ ($select('block-kind').value)
  const value = $input('block-value').value.trim()
  const pattern = $input('block-pattern').checked
  if (value !== '') void blockFromForm(kind, value, pattern)
})
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.picking !== null) setPicking(null)
})
window.addEventListener('hashchange', () => void route())

if (session.key !== null) {
  // A reload keeps the tab's key: check it once and load the block list with it.
  refreshBlocked().then(route, (err) => fail(err, () => void route()))
} else {
  showSignIn()
}
