/**
 * The ceiling: a bare Fastify app answering a small JSON POST with a fixed identity, no logging, no
 * schema, no storage. Run as its own process by bench/run.ts; prints its port on stdout.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/identify', async () => ({
  contact: {
    primaryContatctId: 1,
    emails: ['lorraine@hillvalley.edu'],
    phoneNumbers: ['123456'],
    secondaryContactIds: [],
  },
}))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
