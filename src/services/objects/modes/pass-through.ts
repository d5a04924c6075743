import type { Readable } from 'node:stream';
import { invalid } from '../../errors';
import type { ObjectStore, StoredObject } from '../../storage/object-store';
import type { PutOptions } from '../encryption-mode';
import type { GetSource, ModeFamily, PutTarget } from './mode-family';

/** Mode `none`: the bytes are stored and read as they are. */
export class PassThroughMode implements ModeFamily {
  constructor(private readonly store: ObjectStore) {}

  put(target: PutTarget, body: Readable, options: PutOptions): Promise<StoredObject> {
    if (options.customerKey || options.kmsKeyId) throw invalid('mode none takes no key');
    return this.store.putObject(target.bucket, target.key, body, target.metadata);
  }

  async open(source: GetSource): Promise<Readable> {
    return source.body;
  }
}
