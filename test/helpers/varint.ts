/**
 * An unsigned protobuf varint, written by hand so tests can build frames and length prefixes
 * that no encoder would produce (bombs, wrong fields, values past 2^53).
 */
export function varint (value: number | bigint): Uint8Array {
  let rest = BigInt(value)
  const out: number[] = []
  do {
    const byte = Number(rest & 0x7fn)
    rest >>= 7n
    out.push(rest > 0n ? byte | 0x80 : byte)
  } while (rest > 0n)
  return Uint8Array.from(out)
}
