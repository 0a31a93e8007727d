/**
 * The operator console (issue 10): the static files of `web/console/` under `/console/`, and the two
 * browser libraries it imports served straight from node_modules under `/console/vendor/` — no
 * bundler, no CDN, so `npm ci && npm start` serves it offline. Every response under `/console`
 * (files, redirects and 404s) carries a strict Content-Security-Policy and the usual security
 * headers; the hook lives in this plugin's scope so the JSON API keeps its own headers.
 */
import { basename, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorBody } from './errors.ts'

/** `web/console/` at the package root: two levels above both `src/http/` and `dist/http/`. */
export const CONSOLE_ROOT = fileURLToPath(new URL('../../web/console/', import.meta.url))

/**
 * The vendor files the console imports, by the name it imports them under. Resolved through each
 * package's own `exports` (the ES module build), so an upgrade that moves the file fails at start,
 * not in the browser.
 */
export const VENDOR_FILES: Readonly<Record<string, string>> = {
  'cytoscape.mjs': fileURLToPath(import.meta.resolve('cytoscape/dist/cytoscape.esm.min.mjs')),
  // The linear-time RE2 engine the service itself uses: the console marks pattern-blocked values
  // with it, never with a JavaScript RegExp (an operator's pattern could backtrack for ever).
  're2js.mjs': fileURLToPath(import.meta.resolve('re2js')),
}

/**
 * The policy: everything from this origin only, no inline script or style (the console has none),
 * no framing, no plugins, no `<base>` tricks. `img-src data:` is for Cytoscape's PNG export.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  // Revalidate every time (ETag / Last-Modified make it cheap): a new release is seen at once.
  'cache-control': 'no-cache',
}

async function securityHeaders(_request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  void reply.headers(CONSOLE_HEADERS)
  return payload
}

/**
 * Registers `/console/` (the bare `/console` redirects there), its files and its vendor libraries.
 *
 * @example
 * await app.register(consoleRoutes)
 * // GET /console/ → web/console/index.html with the console's CSP
 */
export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  await app.register(
    async (scope) => {
      scope.addHook('onSend', securityHeaders)
      // The page's relative URLs resolve against the folder, so the bare path goes to the folder
      // (the static plugin would serve the index at both).
      scope.addHook('onRequest', async (request, reply) => {
        if (request.url.split('?')[0] === '/console') return reply.redirect('/console/', 301)
      })
      // wildcard: false — one route per file, found at start; inside an encapsulated scope that is
      // what makes the index and this scope's 404 handler work (the plugin's README).
      await scope.register(fastifyStatic, {
        root: CONSOLE_ROOT,
        prefix: '/',
        wildcard: false,
        index: 'index.html',
        cacheControl: false,
        // Type declarations for the editor and tsc, not for the browser.
        globIgnore: ['**/*.d.mts', '**/*.d.ts', '**/tsconfig.json'],
      })
      scope.get('/vendor/:file', { schema: { hide: true } }, async (request, reply) => {
        const path = VENDOR_FILES[(request.params as { file: string }).file]
        if (path === undefined) return reply.callNotFound()
        return reply.sendFile(basename(path), dirname(path), { cacheControl: false })
      })
      scope.setNotFoundHandler(async (request, reply) => {
        const path = request.url.split('?')[0]
        return reply.code(404).send(errorBody('ERR_NOT_FOUND', `there is no console file ${path}`))
      })
    },
    { prefix: '/console' },
  )
}
