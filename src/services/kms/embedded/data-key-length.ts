import { invalid } from '../../errors';
import type { GenerateDataKeyInput } from '../key-management';

/** GenerateDataKey's length: `keySpec` (AES_256, AES_128) or `numberOfBytes` (1-1024), exactly one. */
export function dataKeyLength(input: Pick<GenerateDataKeyInput, 'keySpec' | 'numberOfBytes'>): number {
  if (input.keySpec !== undefined && input.numberOfBytes !== undefined) throw invalid('give keySpec or numberOfBytes, not both');
  if (input.keySpec === 'AES_256') return 32;
  if (input.keySpec === 'AES_128') return 16;
  if (input.keySpec !== undefined) throw invalid(`keySpec must be AES_256 or AES_128 (got ${String(input.keySpec)})`);
  const n = input.numberOfBytes;
  if (n === undefined) throw invalid('give keySpec or numberOfBytes');
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw invalid(`numberOfBytes must be an integer from 1 to 1024 (got ${n})`);
  return n;
}
