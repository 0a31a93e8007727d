/**
 * An engine's copy of the block list and the version it was read at (src/identity/blocklist.ts).
 * Each request's read confirms the version in the same statement; one that finds it moved marks the
 * copy stale, and it is read again before the request is rerun.
 */
import { BlockList } from '../identity/blocklist.ts'

export class BlocklistState {
  version = -1
  list: BlockList = BlockList.EMPTY
  stale = true
}
