import { useState } from 'react'

/** Copies `text` to the clipboard; the label names what is copied for screen readers and tests. */
export function CopyButton ({ text, label }: { text: string, label: string }): React.JSX.Element {
  const [copied, setCopied] = useState(false)
  const copy = (): void => {
    navigator.clipboard.writeText(text).then(
      () => { setCopied(true); setTimeout(() => { setCopied(false) }, 1200) },
      () => { setCopied(false) }
    )
  }
  return (
    <button type="button" className="copy" aria-label={label} title={label} onClick={copy}>
      {copied ? 'Copied' : 'Copy'}
    </button>
  )
}
