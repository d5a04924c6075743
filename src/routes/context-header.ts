import { invalid } from '../services/errors';
import type { EncryptionContext } from '../services/kms/key-management';
import { nulRefused } from './nul-check';
import { quote } from '../services/quote';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Node reads header bytes as latin1; a context is UTF-8 text, as curl sends it. */
function headerText(header: string): string {
  try {
    return utf8.decode(Buffer.from(header, 'latin1'));
  } catch {
    throw invalid(`X-Encryption-Context: ${quote(header)} is not UTF-8 (percent-encode other bytes)`);
  }
}

/**
 * Parses `X-Encryption-Context: k1=v1,k2=v2`. Keys and values are percent-decoded, so a `,`, `=`
 * or `%` inside one is written `%2C`, `%3D`, `%25`. Keys must be unique and non-empty; keys
 * beginning with `aws-crypto-` are reserved by the Encryption SDK.
 */
export function parseContextHeader(header: string | undefined): EncryptionContext {
  const context: EncryptionContext = {};
  if (header === undefined || header.trim() === '') return context;
  for (const pair of headerText(header).split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalid(`X-Encryption-Context: ${quote(pair.trim())} is not key=value (write pairs as k1=v1,k2=v2)`);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(pair.slice(0, eq).trim());
      value = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      throw invalid(`X-Encryption-Context: ${quote(pair.trim())} has a bad percent-escape`);
    }
    if (key === '') throw invalid('X-Encryption-Context: keys must not be empty');
    if (key.includes('\0') || value.includes('\0')) throw nulRefused();
    if (key.startsWith('aws-crypto-'))
      throw invalid(`X-Encryption-Context: keys beginning with aws-crypto- are reserved (got ${quote(key)})`);
    if (Object.hasOwn(context, key)) throw invalid(`X-Encryption-Context: key ${quote(key)} appears twice`);
    context[key] = value;
  }
  return context;
}
