/**
 * The identity graph on Cytoscape.js: contacts as nodes (the primary a star; a dashed red ring
 * when it holds a blocked value), shared emails (blue), phone numbers (green) and links (purple,
 * dashed) as labelled edges, blocked ones grey and dotted. Laid out with Cytoscape's built-in
 * force-directed `cose` from a fixed ring, so the same identity draws the same way every time.
 * The instance is `window.__identityGraph`: tests assert on the rendered elements and classes.
 */
import cytoscape from '../vendor/cytoscape.mjs'
import { buildElements, pathElements } from './model.js'

/** @typedef {import('./model.js').Identity} Identity */
/** @typedef {import('./model.js').Step} Step */

const STYLE = [
  {
    selector: 'node.contact',
    style: {
      'background-color': '#5b7083',
      label: 'data(label)',
      'text-wrap': 'wrap',
      'text-valign': 'bottom',
      'text-halign': 'center',
      'text-margin-y': 4,
      'font-size': 12,
      color: '#17212b',
      width: 22,
      height: 22,
      'min-zoomed-font-size': 6,
      'text-background-color': '#ffffff',
      'text-background-opacity': 0.85,
      'text-background-padding': '1px',
    },
  },
  {
    selector: 'node.primary',
    style: { 'background-color': '#1f4e8c', shape: 'star', width: 34, height: 34, 'font-weight': 'bold' },
  },
  {
    selector: 'node.holds-blocked',
    style: { 'border-width': 3, 'border-style': 'dashed', 'border-color': '#b3261e' },
  },
  {
    selector: 'node.part',
    style: {
      shape: 'round-rectangle',
      'background-color': '#eef3f8',
      'background-opacity': 0.7,
      'border-width': 1,
      'border-color': '#8aa4c0',
      label: 'data(label)',
      'text-valign': 'top',
      'text-halign': 'center',
      'font-size': 12,
      'font-weight': 'bold',
      color: '#1f4e8c',
      padding: '18px',
    },
  },
  {
    selector: 'edge',
    style: {
      width: 2,
      'curve-style': 'bezier',
      label: 'data(label)',
      'font-size': 11,
      color: '#26323d',
      'text-rotation': 'autorotate',
      'text-background-color': '#ffffff',
      'text-background-opacity': 0.85,
      'text-background-padding': '1px',
      'min-zoomed-font-size': 7,
    },
  },
  { selector: 'edge.email', style: { 'line-color': '#1f77b4' } },
  { selector: 'edge.phone', style: { 'line-color': '#2e7d32' } },
  { selector: 'edge.link', style: { 'line-color': '#7b1fa2', 'line-style': 'dashed' } },
  { selector: 'edge.blocked', style: { 'line-color': '#9e9e9e', 'line-style': 'dotted', color: '#b3261e' } },
  {
    selector: 'node.contact:selected',
    style: { 'border-width': 4, 'border-color': '#f59e0b', 'border-style': 'solid' },
  },
  { selector: 'edge:selected', style: { 'line-color': '#f59e0b', width: 4 } },
  { selector: '.faded', style: { opacity: 0.25 } },
  { selector: 'node.path', style: { 'border-width': 5, 'border-color': '#d9480f', 'border-style': 'solid' } },
  {
    selector: 'edge.path',
    style: { width: 6, 'line-color': '#d9480f', 'line-style': 'solid', 'z-index': 10, color: '#7a2a06' },
  },
]

/**
 * `cose` as measured on this console: small identities keep room for their labels; from 40
 * contacts labels only show when zoomed in (min-zoomed-font-size), so the layout packs tighter
 * (a 200-contact chain lays out in about 0.7 s on a 2-core machine).
 *
 * @param {number} contacts
 */
const layout = (contacts) => ({
  name: 'cose',
  animate: false,
  randomize: false,
  fit: true,
  padding: 30,
  nodeDimensionsIncludeLabels: contacts <= 40,
  idealEdgeLength: contacts <= 40 ? 50 : 60,
  nodeRepulsion: contacts <= 40 ? 4500 : 3000,
  componentSpacing: 40,
  nestingFactor: 1.2,
  numIter: 1500,
})

/** No closer than this when fitting: one or two contacts would otherwise fill the pane. */
const MAX_FIT_ZOOM = 1.3

/**
 * Turns the drawing so its long axis runs along the pane's: a chain-shaped identity laid out
 * upright in a wide pane would otherwise be fitted small, its labels unreadable. Labels stay
 * horizontal, so turning costs nothing in legibility.
 *
 * @param {any} cy
 * @param {HTMLElement} container
 */
function alignToPane(cy, container) {
  const nodes = cy.nodes('.contact')
  if (nodes.length < 3) return
  /** @type {{ x: number, y: number }[]} */
  const ps = nodes.map((/** @type {any} */ n) => n.position())
  const mx = ps.reduce((s, p) => s + p.x, 0) / ps.length
  const my = ps.reduce((s, p) => s + p.y, 0) / ps.length
  let sxx = 0
  let syy = 0
  let sxy = 0
  for (const p of ps) {
    sxx += (p.x - mx) ** 2
    syy += (p.y - my) ** 2
    sxy += (p.x - mx) * (p.y - my)
  }
  const axis = 0.5 * Math.atan2(2 * sxy, sxx - syy)
  const turn = (container.clientWidth >= container.clientHeight ? 0 : Math.PI / 2) - axis
  const cos = Math.cos(turn)
  const sin = Math.sin(turn)
  nodes.positions((/** @type {any} */ n) => {
    const p = n.position()
    const dx = p.x - mx
    const dy = p.y - my
    return { x: mx + dx * cos - dy * sin, y: my + dx * sin + dy * cos }
  })
}

/**
 * @param {HTMLElement} container
 * @param {{ onContact(id: number): void, onEdge(data: Record<string, any>): void, onBackground(): void }} handlers
 */
export function createGraph(container, handlers) {
  const cy = cytoscape({
    container,
    style: /** @type {any} */ (STYLE),
    // A 200-contact chain needs to zoom out this far to fit.
    minZoom: 0.05,
    maxZoom: 3,
    boxSelectionEnabled: false,
    selectionType: 'single',
  })
  Object.assign(window, { __identityGraph: cy })
  cy.on('tap', 'node.contact', (e) => handlers.onContact(e.target.data('contactId')))
  cy.on('tap', 'edge', (e) => handlers.onEdge(e.target.data()))
  cy.on('tap', (e) => {
    if (e.target === cy) handlers.onBackground()
  })
  // Cytoscape caches where its container is on the page, and a notice or an explain result
  // appearing above it moves it without a resize: refresh the cache before every press, or a
  // click would land on the wrong node.
  for (const type of ['mousedown', 'touchstart']) {
    container.addEventListener(type, () => cy.resize(), { capture: true, passive: true })
  }
  // The container changes size with the window and the panels: keep the drawing in view.
  const fit = () => {
    cy.fit(undefined, 30)
    if (cy.zoom() > MAX_FIT_ZOOM) {
      cy.zoom(MAX_FIT_ZOOM)
      cy.center()
    }
  }
  new ResizeObserver(() => {
    cy.resize()
    fit()
  }).observe(container)

  return {
    cy,
    /**
     * Draws the identities (one, or the parts of a split), replacing what was drawn.
     *
     * @param {Identity[]} parts
     * @param {import('./model.js').IsBlocked} isBlocked
     */
    show(parts, isBlocked) {
      cy.elements().remove()
      cy.add(/** @type {any} */ (buildElements(parts, isBlocked)))
      cy.nodes('.part').unselectify()
      cy.layout(/** @type {any} */ (layout(cy.nodes('.contact').length))).run()
      alignToPane(cy, container)
      fit()
      container.dataset.nodes = String(cy.nodes('.contact').length)
      container.dataset.edges = String(cy.edges().length)
    },
    /** @param {number | null} contactId */
    select(contactId) {
      cy.elements(':selected').unselect()
      if (contactId !== null) cy.getElementById(`c${contactId}`).select()
    },
    /**
     * Highlights an explain path: its contacts and the edges it walks; everything else fades.
     *
     * @param {Step[]} path
     */
    highlight(path) {
      this.clearHighlight()
      const { nodeIds, edgeIds, extra } = pathElements(
        path,
        cy.edges().map((e) => /** @type {any} */ (e.data())),
      )
      cy.add(/** @type {any} */ (extra))
      cy.elements().addClass('faded')
      for (const id of [...nodeIds, ...edgeIds]) cy.getElementById(id).removeClass('faded').addClass('path')
      cy.nodes('.part').removeClass('faded')
      container.dataset.highlighted = String(nodeIds.length)
    },
    clearHighlight() {
      cy.remove('.path-extra')
      cy.elements().removeClass('faded path')
      delete container.dataset.highlighted
    },
  }
}
