import type { LogFormat } from './config.ts'

export type LogLevel = 'info' | 'warn' | 'error'

/** Fields of one event: plain JSON values. */
export type LogFields = Record<string, string | number | boolean | string[] | undefined>

/**
 * The relay's operator log: text lines for a person, or with `--log-format json` one JSON
 * object per line and event (`time`, `level`, `event`, `message`, then the event's fields), for
 * a log collector. Warnings and errors go to stderr, the rest to stdout.
 */
export interface RelayLog {
  readonly format: LogFormat
  /**
   * One event. `text` is what the text format prints (one or more lines); the JSON format prints
   * `message` and `fields` instead.
   */
  event(level: LogLevel, event: string, message: string, fields?: LogFields, text?: string): void
}

export function createRelayLog (format: LogFormat, out: { stdout(line: string): void, stderr(line: string): void } = {
  stdout: line => { process.stdout.write(`${line}\n`) },
  stderr: line => { process.stderr.write(`${line}\n`) }
}): RelayLog {
  return {
    format,
    event (level, event, message, fields = {}, text) {
      const write = level === 'info' ? out.stdout : out.stderr
      if (format === 'text') {
        write(text ?? `webkad relay: ${message}`)
        return
      }
      write(JSON.stringify({ time: new Date().toISOString(), level, event, message, ...fields }))
    }
  }
}
