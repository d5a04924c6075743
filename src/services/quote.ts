/**
 * A caller's value quoted for an error message. Header values reach Coffer as latin1 text, so
 * anything outside printable ASCII is shown as \xNN (or \u{...}) escapes rather than echoed as
 * mojibake or as control characters.
 */
export function quote(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0x20 && code < 0x7f && char !== '"' && char !== '\\') out += char;
    else out += code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  }
  return `"${out}"`;
}
