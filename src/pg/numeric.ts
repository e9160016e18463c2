/**
 * Exact decoding of Postgres' binary numeric (numeric_send): int16 ndigits, int16 weight,
 * uint16 sign, uint16 dscale, then ndigits base-10000 digits, most significant first.
 * The value is sum(digit[i] * 10000^(weight - i)).
 */
import { CompactError } from "../errors.ts"

const NUMERIC_NEG = 0x4000
const NUMERIC_NAN = 0xc000
const NUMERIC_PINF = 0xd000
const NUMERIC_NINF = 0xf000

const POW10: bigint[] = []
for (let i = 0, p = 1n; i <= 160; i++, p *= 10n) POW10.push(p)

/** 10^n as a bigint (cached for n <= 160). */
export function pow10(n: number): bigint {
  return POW10[n] ?? 10n ** BigInt(n)
}

const TRILLION = 1_000_000_000_000n

function checkLength(view: DataView, p: number, len: number, column: string): number {
  if (len < 8) throw malformed(column)
  const ndigits = view.getInt16(p)
  if (ndigits < 0 || len !== 8 + 2 * ndigits) throw malformed(column)
  return ndigits
}

function malformed(column: string): CompactError {
  return new CompactError("INTEGRITY", `Cannot decode numeric in column "${column}": malformed binary value`)
}

function special(sign: number): string | undefined {
  if (sign === NUMERIC_NAN) return "NaN"
  if (sign === NUMERIC_PINF) return "Infinity"
  if (sign === NUMERIC_NINF) return "-Infinity"
  return undefined
}

/**
 * The unscaled integer of a numeric value for DECIMAL(precision, scale): value * 10^scale.
 * INTEGRITY for NaN/±Infinity, for digits beyond `scale` and for more than `precision` digits.
 */
export function numericToUnscaled(
  view: DataView,
  p: number,
  len: number,
  precision: number,
  scale: number,
  column: string,
): bigint {
  const ndigits = checkLength(view, p, len, column)
  const weight = view.getInt16(p + 2)
  const sign = view.getUint16(p + 4)
  const name = special(sign)
  if (name !== undefined) {
    throw new CompactError(
      "INTEGRITY",
      `Cannot write ${name} in column "${column}" as DECIMAL(${precision},${scale}): Parquet DECIMAL has no such value; cast the column to text in a view`,
    )
  }
  if (ndigits === 0) return 0n
  // Three base-10000 digits (10^12) stay exact in a double; combine in bigint beyond that.
  let big = 0n
  let acc = 0
  let k = 0
  let q = p + 8
  for (let i = 0; i < ndigits; i++, q += 2) {
    acc = acc * 10000 + view.getUint16(q)
    if (++k === 3) {
      big = big === 0n ? BigInt(acc) : big * TRILLION + BigInt(acc)
      acc = 0
      k = 0
    }
  }
  if (k > 0) big = big === 0n ? BigInt(acc) : big * pow10(4 * k) + BigInt(acc)
  const exponent = 4 * (weight - ndigits + 1) + scale
  if (exponent > 0) {
    big *= pow10(exponent)
  } else if (exponent < 0) {
    const div = pow10(-exponent)
    if (big % div !== 0n) {
      throw new CompactError(
        "INTEGRITY",
        `Cannot write a value of column "${column}" as DECIMAL(${precision},${scale}): it has more than ${scale} fractional digits`,
      )
    }
    big /= div
  }
  if (big >= pow10(precision)) {
    throw new CompactError(
      "INTEGRITY",
      `Cannot write a value of column "${column}" as DECIMAL(${precision},${scale}): it has more than ${precision} digits`,
    )
  }
  return sign === NUMERIC_NEG ? -big : big
}

/** Byte length of numeric_out's text for this binary value (ASCII). */
export function numericTextLength(view: DataView, p: number, len: number, column: string): number {
  const ndigits = checkLength(view, p, len, column)
  const weight = view.getInt16(p + 2)
  const sign = view.getUint16(p + 4)
  const dscale = view.getUint16(p + 6)
  const name = special(sign)
  if (name !== undefined) return name.length
  let n = sign === NUMERIC_NEG ? 1 : 0
  if (weight < 0) {
    n += 1
  } else {
    const d0 = ndigits > 0 ? view.getUint16(p + 8) : 0
    n += (d0 >= 1000 ? 4 : d0 >= 100 ? 3 : d0 >= 10 ? 2 : 1) + 4 * weight
  }
  if (dscale > 0) n += 1 + dscale
  return n
}

/** "0000" … "9999": the four ASCII digits of each base-10000 digit, at 4 × digit. */
const DIGITS = new Uint8Array(40000)
for (let i = 0; i < 10000; i++) {
  DIGITS[4 * i] = 48 + Math.floor(i / 1000)
  DIGITS[4 * i + 1] = 48 + Math.floor(i / 100) % 10
  DIGITS[4 * i + 2] = 48 + Math.floor(i / 10) % 10
  DIGITS[4 * i + 3] = 48 + i % 10
}

/**
 * Writes numeric_out's text (what `numeric::text` returns) at out[o..]; numericTextLength() bytes.
 * Mirrors get_str_from_var(): leading zeros of the first group dropped, exactly dscale decimals.
 * Each base-10000 digit is four bytes copied from DIGITS (no division per decimal digit).
 */
export function writeNumericText(view: DataView, p: number, out: Uint8Array, o: number): void {
  const ndigits = view.getInt16(p)
  const weight = view.getInt16(p + 2)
  const sign = view.getUint16(p + 4)
  const dscale = view.getUint16(p + 6)
  const name = special(sign)
  if (name !== undefined) {
    for (let i = 0; i < name.length; i++) out[o + i] = name.charCodeAt(i)
    return
  }
  if (sign === NUMERIC_NEG) out[o++] = 45 // '-'
  let d: number
  if (weight < 0) {
    d = weight + 1
    out[o++] = 48
  } else {
    // the first group without its leading zeros (a zero group still prints "0")
    const d0 = ndigits > 0 ? view.getUint16(p + 8) : 0
    const q0 = 4 * d0
    for (let k = d0 >= 1000 ? 0 : d0 >= 100 ? 1 : d0 >= 10 ? 2 : 3; k < 4; k++) out[o++] = DIGITS[q0 + k]!
    for (d = 1; d <= weight; d++) {
      const q = d < ndigits ? 4 * view.getUint16(p + 8 + 2 * d) : 0
      out[o] = DIGITS[q]!
      out[o + 1] = DIGITS[q + 1]!
      out[o + 2] = DIGITS[q + 2]!
      out[o + 3] = DIGITS[q + 3]!
      o += 4
    }
  }
  if (dscale > 0) {
    out[o++] = 46 // '.'
    const end = o + dscale
    for (; o < end; d++) {
      const q = d >= 0 && d < ndigits ? 4 * view.getUint16(p + 8 + 2 * d) : 0
      for (let k = 0; k < 4 && o < end; k++) out[o++] = DIGITS[q + k]!
    }
  }
}
