/**
 * `POST /identify` over a real socket, for tests that run a listening server or child processes.
 * Anything but a 200 fails the test: under any race the client must never see an error (SPEC §4).
 *
 * @example
 * const contact = await identify(server.url, { email: 'doc@hillvalley.edu' })
 */
import assert from 'node:assert/strict'
import type { IdentityView } from '../../src/identity/contact.ts'

export async function identify(url: string, body: unknown): Promise<IdentityView> {
  const res = await fetch(`${url}/identify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  assert.equal(res.status, 200, `POST /identify ${JSON.stringify(body)} answered ${res.status}: ${text}`)
  return (JSON.parse(text) as { contact: IdentityView }).contact
}
