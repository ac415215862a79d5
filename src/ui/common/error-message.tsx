import type { OperationError } from '../hooks/use-operation.ts'

/**
 * A failed operation, shown where the user acted; `role="alert"` makes it announced. An optional
 * headline states the outcome in plain words before the core's detailed message.
 */
export function ErrorMessage ({ error, headline }: { error: OperationError, headline?: string }): React.JSX.Element {
  return (
    <p role="alert" className="error" data-error-name={error.name} data-error-reason={error.reason}>
      {headline != null && <strong>{headline}. </strong>}
      {error.message}
    </p>
  )
}
