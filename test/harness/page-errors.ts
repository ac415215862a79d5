import type { Page } from 'playwright-core'

/** Console text that means an error escaped the app (unhandled rejection, uncaught throw). */
export const ESCAPED_ERROR = /Unhandled|Uncaught/

/**
 * Notes in `sink` every error that escapes a page: uncaught exceptions (`pageerror`), crashes
 * and, with `console: true`, console lines that report an unhandled rejection or uncaught error.
 * Each entry starts with `label`.
 */
export function watchPageErrors (page: Page, label: string, sink: string[], options: { console?: boolean } = {}): void {
  page.on('pageerror', (error) => { sink.push(`${label}: pageerror: ${error.name}: ${error.message}`) })
  page.on('crash', () => { sink.push(`${label}: page crashed`) })
  if (options.console === true) {
    page.on('console', (message) => {
      if (ESCAPED_ERROR.test(message.text())) sink.push(`${label} [${message.type()}] ${message.text()}`)
    })
  }
}
