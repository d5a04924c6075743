import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The SigV4 root credentials Coffer generated, read from its AWS-style ini file. */
export function credentialsIn(dataDir: string) {
  const text = readFileSync(path.join(dataDir, 'root-credentials'), 'utf8');
  const field = (name: string) => new RegExp(`^${name}\\s*=\\s*(\\S+)`, 'm').exec(text)![1]!;
  return { accessKeyId: field('aws_access_key_id'), secretAccessKey: field('aws_secret_access_key') };
}
