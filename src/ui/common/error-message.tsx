/** A failed operation, shown where the user acted; `role="alert"` makes it announced. */
export function ErrorMessage ({ error }: { error: { name: string, message: string } }): React.JSX.Element {
  return <p role="alert" className="error" data-error-name={error.name}>{error.message}</p>
}
