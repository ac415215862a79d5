/**
 * Options for Vitest's `vi.waitFor`: give up after `timeout` ms, looking every 20 ms (its
 * default timeout, 1 s, is too short for real nodes on a loaded machine). The callback throws
 * (an `expect`) until the condition holds, so a timeout reports what was last seen.
 */
export function within (timeout: number): { timeout: number, interval: number } {
  return { timeout, interval: 20 }
}
