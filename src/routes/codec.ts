import type { Request } from 'express';
import { invalid } from '../services/errors';
import type { EncryptionContext } from '../services/kms/key-management';

/** Decodes a base64 field the validator has already checked for shape. */
export function fromBase64(value: string, field: string): Buffer {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0 && value.length > 0) throw invalid(`${field} is not valid base64`);
  return bytes;
}

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

export const isoDate = (d: Date | undefined): string | undefined => d?.toISOString();

/** A path parameter, decoded by express; aliases and ARNs arrive with their slashes restored. */
export function pathParam(req: Request, name: string): string {
  const value = req.params[name];
  const joined = Array.isArray(value) ? value.join('/') : value;
  if (!joined) throw invalid(`missing path parameter ${name}`);
  return joined;
}

/** Query integer already validated by the OpenAPI layer. */
export function queryInt(req: Request, name: string): number | undefined {
  const value = req.query[name];
  return value === undefined ? undefined : Number(value);
}

export function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}

export function context(value: unknown): EncryptionContext | undefined {
  return value === undefined ? undefined : (value as EncryptionContext);
}
