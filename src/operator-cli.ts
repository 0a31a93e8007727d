/**
 * The operator commands of the `identity` CLI (SPEC §8–§9), for operators without HTTP access:
 * `delete-contact`, `delete-link`, `erase`, `block`, `unblock`, `blocked`, `hubs`. Each runs the same
 * service unit as its route, against DATABASE_URL, and prints the route's JSON answer on stdout.
 */
import { Argument, type Command, InvalidArgumentError, Option } from 'commander'
import { loadConfig } from './config.ts'
import { AppError } from './errors.ts'
import type { BlockKind } from './identity/blocklist.ts'
import { normalizeEmail, normalizePhoneNumber } from './identity/normalize.ts'
import { HUBS_DEFAULT_LIMIT, HUBS_MAX_LIMIT } from './service/operator.ts'
import { IdentityService } from './service/service.ts'
import { openStore } from './store/open.ts'

/** Runs `work` with a service on the configured store and prints its answer as JSON. */
async function withService(
  work: (service: IdentityService, config: ReturnType<typeof loadConfig>) => Promise<unknown>,
) {
  const config = loadConfig(process.env)
  const store = await openStore(config, { purpose: 'cli' })
  try {
    const answer = await work(new IdentityService(store), config)
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`)
  } finally {
    await store.close()
  }
}

const caller = { requestId: `cli:${process.pid}` }

function id(value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive whole number')
  return Number(value)
}

/**
 * @example
 * operatorCommands(program) // adds delete-contact, delete-link, erase, block, unblock, blocked, hubs
 */
export function operatorCommands(program: Command): void {
  program
    .command('delete-contact')
    .description('soft-delete a contact and regroup what it joined (DELETE /contacts/{id})')
    .argument('<id>', 'the contact id', id)
    .action((contactId: number) => withService((s) => s.deleteContact(contactId, caller)))

  program
    .command('delete-link')
    .description('remove a merge that should not have been, and regroup (DELETE /links/{id})')
    .argument('<id>', 'the link id (GET /identities/… lists them)', id)
    .action((linkId: number) => withService((s) => s.deleteLink(linkId, caller)))

  program
    .command('erase')
    .description(
      'erase the identity holding a contact for a privacy request: its contacts and links removed for good, its history scrubbed (DELETE /identities/{id})',
    )
    .argument('<id>', 'a contact id of the identity', id)
    .action((contactId: number) => withService((s) => s.erase(contactId, caller)))

  program
    .command('block')
    .description('block a junk value (or, with --pattern, a regular expression) and regroup what it joined')
    .addArgument(new Argument('<kind>', 'email or phoneNumber').choices(['email', 'phoneNumber']))
    .argument('<value>', 'the value (normalised as /identify does), or the pattern with --pattern')
    .addOption(new Option('--pattern', 'treat <value> as a regular expression (RE2 syntax, linear time)'))
    .action((kind: BlockKind, value: string, opts: { pattern?: boolean }) =>
      withService(async (s, config) => {
        if (opts.pattern) return (await s.block({ kind, pattern: value }, caller)).entry
        const normalized =
          kind === 'email'
            ? normalizeEmail(value)
            : normalizePhoneNumber(value, { defaultCountry: config.phoneDefaultCountry })
        if (normalized === null) throw new AppError('ERR_INVALID_INPUT', 'value is blank')
        return (await s.block({ kind, value: normalized }, caller)).entry
      }),
    )

  program
    .command('unblock')
    .description('unblock an entry of the block list; what it kept apart joins again (DELETE /blocked-values/{id})')
    .argument('<id>', 'the blocked-value id (see `blocked`)', id)
    .action((entryId: number) => withService((s) => s.unblock(entryId, caller)))

  program
    .command('blocked')
    .description('list the block list (GET /blocked-values)')
    .action(() => withService((s) => s.blocked(caller)))

  program
    .command('hubs')
    .description('the values held by the most contacts and the largest identities: where junk hides')
    .option(
      '--limit <n>',
      `how many of each (1–${HUBS_MAX_LIMIT})`,
      (v) => {
        const n = id(v)
        if (n > HUBS_MAX_LIMIT) throw new InvalidArgumentError(`must be at most ${HUBS_MAX_LIMIT}`)
        return n
      },
      HUBS_DEFAULT_LIMIT,
    )
    .action((opts: { limit: number }) => withService((s) => s.hubs(opts.limit, caller)))
}
