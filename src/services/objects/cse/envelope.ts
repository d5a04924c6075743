import { ServiceError } from '../../errors';

/**
 * The two S3 Encryption Client metadata formats Coffer writes and reads, as one model.
 *
 * V2 (`x-amz-key-v2`, `x-amz-iv`, `x-amz-cek-alg` "AES/GCM/NoPadding", `x-amz-wrap-alg`,
 * `x-amz-matdesc`, `x-amz-tag-len`): AES-256-GCM under the data key itself.
 * V3 (`x-amz-3`, `x-amz-c` "115", `x-amz-w` "12"/"02", `x-amz-t` or `x-amz-m`, `x-amz-d`,
 * `x-amz-i`): the key-committing suite; short names keep S3's 2 KB metadata budget.
 * The names are S3 user-metadata names (S3 adds `x-amz-meta-`).
 */
export type CseFormat = 'v2' | 'v3';
export const cseFormats: readonly CseFormat[] = ['v2', 'v3'];
export type WrapAlgorithm = 'kms+context' | 'AES/GCM';

export const CONTENT_ALGORITHM: Record<CseFormat, string> = { v2: 'AES/GCM/NoPadding', v3: '115' };
const V3_WRAP_CODE: Record<WrapAlgorithm, string> = { 'kms+context': '12', 'AES/GCM': '02' };

export interface CseEnvelope {
  format: CseFormat;
  wrapAlgorithm: WrapAlgorithm;
  encryptedDataKey: Buffer;
  /** V2: the content IV (12 bytes). V3: the message id (28 bytes), the HKDF salt. */
  ivOrMessageId: Buffer;
  /** V3 only: the stored key commitment. */
  commitment?: Buffer;
  /** kms+context: the KMS encryption context; AES/GCM: the material description. */
  context: Record<string, string>;
  /** V2 only, when the writer recorded it. */
  plaintextLength?: number;
}

/** Every way a CSE object can fail to decrypt (altered data or metadata, wrong key) is this 400. */
export const invalidCiphertext = (message: string) => new ServiceError('InvalidCiphertextException', message);
const invalidEnvelope = (message: string) => invalidCiphertext(`S3 Encryption Client metadata: ${message}`);

const V2_ONLY = ['x-amz-key-v2', 'x-amz-iv', 'x-amz-cek-alg', 'x-amz-wrap-alg', 'x-amz-matdesc', 'x-amz-tag-len'];
const V3_ONLY = ['x-amz-3', 'x-amz-c', 'x-amz-w', 'x-amz-t', 'x-amz-m', 'x-amz-d', 'x-amz-i'];

export function encodeEnvelope(e: CseEnvelope): Record<string, string> {
  const context = JSON.stringify(e.context);
  if (e.format === 'v2') {
    return {
      'x-amz-key-v2': e.encryptedDataKey.toString('base64'),
      'x-amz-iv': e.ivOrMessageId.toString('base64'),
      'x-amz-cek-alg': CONTENT_ALGORITHM.v2,
      'x-amz-wrap-alg': e.wrapAlgorithm,
      'x-amz-matdesc': context,
      'x-amz-tag-len': '128',
      ...(e.plaintextLength === undefined ? {} : { 'x-amz-unencrypted-content-length': String(e.plaintextLength) }),
    };
  }
  return {
    'x-amz-3': e.encryptedDataKey.toString('base64'),
    'x-amz-c': CONTENT_ALGORITHM.v3,
    'x-amz-w': V3_WRAP_CODE[e.wrapAlgorithm],
    [e.wrapAlgorithm === 'kms+context' ? 'x-amz-t' : 'x-amz-m']: context,
    'x-amz-d': e.commitment!.toString('base64'),
    'x-amz-i': e.ivOrMessageId.toString('base64'),
  };
}

/** The format of an S3 Encryption Client object, undefined for anything else. */
export function cseFormatOf(metadata: Record<string, string>): CseFormat | undefined {
  if ('x-amz-3' in metadata) return 'v3';
  if ('x-amz-key-v2' in metadata) return 'v2';
  return undefined;
}

export function wrapAlgorithmOf(metadata: Record<string, string>): string | undefined {
  const code = metadata['x-amz-w'];
  if (code !== undefined) return Object.entries(V3_WRAP_CODE).find(([, c]) => c === code)?.[0] ?? code;
  return metadata['x-amz-wrap-alg'];
}

export function decodeEnvelope(m: Record<string, string>): CseEnvelope {
  if ('x-amz-key' in m && !('x-amz-key-v2' in m) && !('x-amz-3' in m)) {
    throw new ServiceError(
      'InvalidRequest',
      'V1 S3 Encryption Client objects (AES/CBC) are not supported: re-encrypt them with a V2 or V3 client',
    );
  }
  const format = cseFormatOf(m);
  if (!format) throw invalidEnvelope('neither x-amz-key-v2 nor x-amz-3 is present');
  const foreign = (format === 'v2' ? V3_ONLY : [...V2_ONLY, 'x-amz-key']).filter((name) => name in m);
  if (foreign.length > 0) throw invalidEnvelope(`a ${format.toUpperCase()} object must not carry ${foreign.join(', ')}`);

  const wrapAlgorithm = wrapAlgorithmOf(m);
  if (wrapAlgorithm !== 'kms+context' && wrapAlgorithm !== 'AES/GCM') {
    throw new ServiceError(
      'InvalidRequest',
      `unsupported S3 Encryption Client key wrapping ${wrapAlgorithm ?? '(none)'}: kms+context and AES/GCM are supported`,
    );
  }
  const contentAlgorithm = format === 'v2' ? m['x-amz-cek-alg'] : m['x-amz-c'];
  if (contentAlgorithm !== CONTENT_ALGORITHM[format])
    throw invalidEnvelope(`unsupported content algorithm ${contentAlgorithm ?? '(none)'}`);
  if (format === 'v2' && (m['x-amz-tag-len'] ?? '128') !== '128') throw invalidEnvelope('unsupported tag length');

  const contextText = format === 'v2' ? m['x-amz-matdesc'] : wrapAlgorithm === 'kms+context' ? m['x-amz-t'] : m['x-amz-m'];
  const length = m['x-amz-unencrypted-content-length'];
  return {
    format,
    wrapAlgorithm,
    encryptedDataKey: Buffer.from((format === 'v2' ? m['x-amz-key-v2'] : m['x-amz-3']) ?? '', 'base64'),
    ivOrMessageId: Buffer.from((format === 'v2' ? m['x-amz-iv'] : m['x-amz-i']) ?? '', 'base64'),
    commitment: format === 'v3' ? Buffer.from(m['x-amz-d'] ?? '', 'base64') : undefined,
    context: parseContext(contextText),
    plaintextLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
  };
}

function parseContext(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidEnvelope('the encryption context or material description is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw invalidEnvelope('the encryption context or material description must map strings to strings');
  }
  return parsed as Record<string, string>;
}
