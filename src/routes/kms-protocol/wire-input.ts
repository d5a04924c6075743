import { ServiceError } from '../../services/errors';
import type { EncryptionContext, GrantConstraints, Tag } from '../../services/kms/key-management';
import type { Page } from '../../services/pagination';

type Json = Record<string, unknown>;

/** AWS's wording for a bad member, e.g. "Value null at 'keyId' failed to satisfy ...". */
function fail(member: string, constraint: string): never {
  const name = member.charAt(0).toLowerCase() + member.slice(1);
  throw new ServiceError(
    'ValidationException',
    `1 validation error detected: Value at '${name}' failed to satisfy constraint: ${constraint}`,
  );
}

/** Typed, validated access to the members of a KMS JSON 1.1 request. */
export class WireInput {
  constructor(private readonly body: Json) {}

  string(name: string): string;
  string(name: string, optional: true): string | undefined;
  string(name: string, optional = false): string | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return optional ? undefined : fail(name, 'Member must not be null');
    if (typeof v !== 'string' || v.length === 0) fail(name, 'Member must be a non-empty string');
    return v;
  }

  /** A string that may be empty (a description). */
  text(name: string): string {
    const v = this.body[name];
    if (typeof v !== 'string') fail(name, 'Member must be a string');
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') fail(name, 'Member must be a boolean');
    return v;
  }

  /** An enum member that must be present. */
  required<T extends string>(name: string, allowed: readonly T[]): T {
    return this.oneOf(name, allowed) ?? fail(name, 'Member must not be null');
  }

  int(name: string, min: number, max: number): number | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(name, `Member must be an integer from ${min} to ${max}`);
    }
    return v;
  }

  blob(name: string): Buffer;
  blob(name: string, optional: true): Buffer | undefined;
  blob(name: string, optional = false): Buffer | undefined {
    const v = this.string(name, true);
    if (v === undefined) return optional ? undefined : fail(name, 'Member must not be null');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) fail(name, 'Member must be base64');
    return Buffer.from(v, 'base64');
  }

  date(name: string): Date | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number') return new Date(v * 1000);
    if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return new Date(v);
    return fail(name, 'Member must be a timestamp');
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const v = this.string(name, true);
    if (v !== undefined && !(allowed as readonly string[]).includes(v)) {
      fail(name, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
    }
    return v as T | undefined;
  }

  context(name: string): EncryptionContext | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
      fail(name, 'Member must be a map of strings to strings');
    }
    return v as EncryptionContext;
  }

  tags(name: string): Tag[] | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) fail(name, 'Member must be a list of tags');
    return v.map((t: unknown) => {
      const tag = t as { TagKey?: unknown; TagValue?: unknown };
      if (typeof tag?.TagKey !== 'string' || typeof tag?.TagValue !== 'string') fail(name, 'each tag needs TagKey and TagValue strings');
      return { tagKey: tag.TagKey, tagValue: tag.TagValue };
    });
  }

  /** A list of strings, each one of `allowed` when given. */
  stringList<T extends string>(name: string, allowed?: readonly T[]): T[] | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length === 0))
      fail(name, 'Member must be a list of non-empty strings');
    const bad = allowed && v.find((x: string) => !(allowed as readonly string[]).includes(x));
    if (bad !== undefined && bad !== false) fail(name, `Member must satisfy enum value set: [${allowed?.join(', ')}]`);
    return v as T[];
  }

  /** GrantTokens, as AWS bounds them: at most 10, each 1 to 8192 characters. */
  grantTokens(): string[] | undefined {
    const tokens = this.stringList('GrantTokens');
    if (tokens && (tokens.length > 10 || tokens.some((t) => t.length > 8192))) {
      fail('GrantTokens', 'Member must have at most 10 tokens of at most 8192 characters');
    }
    return tokens;
  }

  /** A grant's Constraints: EncryptionContextEquals and EncryptionContextSubset. */
  constraints(name: string): GrantConstraints | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) fail(name, 'Member must be a structure');
    const inner = new WireInput(v as Json);
    return {
      encryptionContextEquals: inner.context('EncryptionContextEquals'),
      encryptionContextSubset: inner.context('EncryptionContextSubset'),
    };
  }

  page(): Page {
    return { limit: this.int('Limit', 1, 1000), marker: this.string('Marker', true) };
  }
}
