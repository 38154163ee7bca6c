/**
 * The fields of `value` that are set: spreading the result over defaults
 * keeps a default where an option was passed as undefined.
 */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
