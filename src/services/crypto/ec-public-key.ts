/**
 * Reads an elliptic-curve SubjectPublicKeyInfo's two parts without OpenSSL: its algorithm
 * identifier (id-ecPublicKey and the curve) and its point. OpenSSL aborts the whole process on
 * some malformed EC keys (the point at infinity among them) once their details are read, so a
 * peer's key is checked here, against our own key's curve and point size, before OpenSSL sees it.
 */
export function spkiParts(der: Buffer): { algorithm: Buffer; point: Buffer } | undefined {
  if (der[0] !== 0x30) return undefined;
  const outer = derLength(der, 1);
  if (!outer || 1 + outer.size + outer.length !== der.length) return undefined;
  let at = 1 + outer.size;
  if (der[at] !== 0x30) return undefined;
  const algorithmLength = derLength(der, at + 1);
  if (!algorithmLength) return undefined;
  const algorithmEnd = at + 1 + algorithmLength.size + algorithmLength.length;
  const algorithm = der.subarray(at, algorithmEnd);
  at = algorithmEnd;
  if (der[at] !== 0x03) return undefined;
  const bits = derLength(der, at + 1);
  if (!bits) return undefined;
  const start = at + 1 + bits.size;
  // A BIT STRING of whole bytes: no unused bits.
  if (start + bits.length !== der.length || bits.length < 2 || der[start] !== 0) return undefined;
  return { algorithm, point: der.subarray(start + 1) };
}

/**
 * True when `der` is an SPKI on the same curve as `ours` with a point of its size, uncompressed
 * (0x04, x, y) or compressed (0x02 or 0x03, x).
 */
export function isPeerKeyOnCurve(der: Buffer, ours: Buffer): boolean {
  const theirs = spkiParts(der);
  const mine = spkiParts(ours);
  if (!theirs || !mine || !theirs.algorithm.equals(mine.algorithm)) return false;
  const coordinate = (mine.point.length - 1) / 2;
  const [form] = theirs.point;
  if (form === 0x04) return theirs.point.length === 1 + 2 * coordinate;
  return (form === 0x02 || form === 0x03) && theirs.point.length === 1 + coordinate;
}

/** A DER length at `at`: its value and how many bytes it took (short form, or long form of 1-2 bytes). */
function derLength(der: Buffer, at: number): { length: number; size: number } | undefined {
  const first = der[at];
  if (first === undefined) return undefined;
  if (first < 0x80) return { length: first, size: 1 };
  const n = first & 0x7f;
  if (n < 1 || n > 2 || at + n >= der.length) return undefined;
  let length = 0;
  for (let i = 1; i <= n; i++) length = length * 256 + (der[at + i] ?? 0);
  return { length, size: 1 + n };
}
