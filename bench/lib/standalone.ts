import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { BenchFunction, BenchSection } from './types.ts'

function cell (value: number | string | boolean | undefined): string {
  if (value == null) return ''
  if (typeof value === 'boolean') return value ? 'met' : 'NOT met'
  return String(value)
}

/** A section as a Markdown table followed by its notes. */
export function formatSection (section: BenchSection): string {
  const header = ['metric', 'value', 'unit', 'baseline', 'ratio', 'goal', 'met', 'note']
  const lines = section.rows.map(row => [
    row.metric,
    cell(row.value),
    row.unit,
    row.baseline == null ? '' : `${row.baseline}${row.baselineLabel != null ? ` (${row.baselineLabel})` : ''}`,
    cell(row.ratio),
    row.goal ?? '',
    cell(row.met),
    row.note ?? ''
  ])
  const escape = (text: string): string => text.replaceAll('|', '\\|')
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...lines.map(line => `| ${line.map(escape).join(' | ')} |`)
  ]
  return [`## ${section.title}`, '', ...table, '', ...section.notes.map(note => `- ${note}`), ''].join('\n')
}

/**
 * Runs one benchmark as a script (`node ... bench/node/<file>.ts [--quick] [--json <file>]`) and
 * prints its table. Only call it when the module is the entry point.
 */
export async function runStandalone (run: BenchFunction): Promise<void> {
  const quick = process.argv.includes('--quick')
  const jsonIndex = process.argv.indexOf('--json')
  const startedAt = performance.now()
  try {
    const section = await run({ quick })
    console.log(formatSection(section))
    console.log(`(${quick ? 'quick' : 'full'} run took ${((performance.now() - startedAt) / 1000).toFixed(1)} s)`)
    if (jsonIndex > 0 && process.argv[jsonIndex + 1] != null) {
      const { writeFile } = await import('node:fs/promises')
      await writeFile(process.argv[jsonIndex + 1] as string, JSON.stringify(section, null, 2))
    }
    process.exit(0)
  } catch (err) {
    console.error(err)
    process.exit(1)
  }
}

/** True when `importMetaUrl` is the script node was started with. */
export function isMainModule (importMetaUrl: string): boolean {
  const entry = process.argv[1]
  return entry != null && importMetaUrl === pathToFileURL(resolve(entry)).href
}
