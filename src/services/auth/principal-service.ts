import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type PolicyDocument, parsePolicyDocument } from '../authz/policy-document';
import { seal, unseal } from '../crypto/sealing';
import { ServiceError, invalid } from '../errors';
import { type Page, type Paginated, paginate } from '../pagination';
import { quote } from '../quote';
import { type Principal, rootPrincipal, userArn } from './principal';
import type { PrincipalRecord, PrincipalStore } from './principal-store';
import type { DeclaredPrincipal } from './principals-file';
import { type AccessKey, newAccessKeyId } from './root-credentials';

/** What creation and rotation hand back once: the secrets are never shown again. */
export interface IssuedCredentials {
  name: string;
  arn: string;
  token: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface PrincipalDescription {
  name: string;
  arn: string;
  accessKeyId: string;
  createdDate: Date;
  hasPolicy: boolean;
}

const NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

const notFound = (name: string) => new ServiceError('NotFoundException', `principal ${quote(name)} does not exist`);

/**
 * Principals and their credentials. Bearer tokens are kept as SHA-256 hashes (they are 256-bit
 * random, so no slow hash is needed) and compared in constant time; SigV4 secrets are sealed
 * under the root key. The root token and root access key stay the account root.
 */
export class PrincipalService {
  private byTokenHash = new Map<string, string>();
  private byAccessKey = new Map<string, string>();
  private policies = new Map<string, PolicyDocument>();
  private readonly rootTokenHash: Buffer;

  constructor(
    private readonly store: PrincipalStore,
    private readonly rootKey: Buffer,
    private readonly accountId: string,
    rootToken: string,
    private readonly rootAccessKey: AccessKey,
  ) {
    this.rootTokenHash = sha256(rootToken);
    this.reindex();
  }

  /** The principal a bearer token belongs to, or undefined. */
  authenticateToken(token: string): Principal | undefined {
    const hash = sha256(token);
    if (timingSafeEqual(hash, this.rootTokenHash)) return rootPrincipal(this.accountId, this.tokenIdOf(hash), 'token');
    const name = this.byTokenHash.get(hash.toString('hex'));
    const record = name === undefined ? undefined : this.store.get(name);
    if (!record || !timingSafeEqual(Buffer.from(record.tokenHash, 'hex'), hash)) return undefined;
    return this.principal(record, this.tokenIdOf(hash), 'token');
  }

  /** The SigV4 secret of an access key and whose it is, or undefined for an unknown key. */
  accessKey(accessKeyId: string): { secret: string; principal: Principal } | undefined {
    if (accessKeyId === this.rootAccessKey.accessKeyId) {
      return { secret: this.rootAccessKey.secretAccessKey, principal: rootPrincipal(this.accountId, accessKeyId, 'accessKey') };
    }
    const name = this.byAccessKey.get(accessKeyId);
    const record = name === undefined ? undefined : this.store.get(name);
    if (!record) return undefined;
    const secret = unseal(this.rootKey, record.sealedSecret, secretLabel(record));
    if (!secret) throw new Error(`the secret of principal ${record.name} cannot be unsealed: wrong root key?`);
    return { secret: secret.toString('utf8'), principal: this.principal(record, accessKeyId, 'accessKey') };
  }

  /** Takes the principals as stored now: another replica changed some. */
  async reload(): Promise<void> {
    await this.store.reload();
    this.reindex();
  }

  async create(name: string, policy?: unknown): Promise<IssuedCredentials> {
    checkName(name);
    const policyText = policy === undefined ? undefined : policyTextOf(policy);
    const { record, issued } = this.issue(name, Date.now(), policyText);
    await this.store.update((records) => {
      // IAM user names are unique whatever their case.
      const taken = [...records.keys()].find((n) => n.toLowerCase() === name.toLowerCase());
      if (taken !== undefined) throw new ServiceError('AlreadyExistsException', `principal ${quote(taken)} already exists`);
      records.set(name, record);
    });
    this.reindex();
    return issued;
  }

  /**
   * Makes the store hold the declared principals (a deployment's file): each is created or
   * replaced with the credentials declared. A declared principal without a token or access key
   * cannot use that way in.
   */
  async declare(declared: DeclaredPrincipal[]): Promise<void> {
    const records = declared.map((d): PrincipalRecord => {
      checkName(d.name);
      const accessKeyId = d.accessKeyId ?? `DECLARED${randomBytes(8).toString('hex').toUpperCase()}`;
      const secret = d.secretAccessKey ?? randomBytes(30).toString('base64');
      const partial = { name: d.name, accessKeyId };
      return {
        ...partial,
        createdDate: Date.now(),
        // No token declared: a hash no token has (of 32 random bytes nobody keeps).
        tokenHash: d.tokenSha256 ?? sha256(randomBytes(32).toString('base64url')).toString('hex'),
        sealedSecret: seal(this.rootKey, Buffer.from(secret), secretLabel(partial)),
        policy: d.policy === undefined ? undefined : policyTextOf(d.policy),
      };
    });
    await this.store.update((all) => {
      for (const record of records) {
        // As created ones, declared names are unique whatever their case (among them too).
        const clash = [...all.keys()].find((n) => n !== record.name && n.toLowerCase() === record.name.toLowerCase());
        if (clash !== undefined)
          throw invalid(`declared principal ${quote(record.name)} clashes with ${quote(clash)}: names are unique whatever their case`);
        all.set(record.name, record);
      }
    });
    this.reindex();
  }

  list(page: Page): Paginated<PrincipalDescription> {
    return paginate(
      this.store.all(),
      page,
      (r) => r.name,
      (r) => this.describeRecord(r),
    );
  }

  describe(name: string): PrincipalDescription {
    const record = this.store.get(name);
    if (!record) throw notFound(name);
    return this.describeRecord(record);
  }

  async delete(name: string): Promise<void> {
    await this.store.update((records) => {
      if (!records.delete(name)) throw notFound(name);
    });
    this.reindex();
  }

  /** New token and access key; the old ones stop working as soon as this resolves. */
  async rotateCredentials(name: string): Promise<IssuedCredentials> {
    const issued = await this.store.update((records) => {
      const old = records.get(name);
      if (!old) throw notFound(name);
      const { record, issued } = this.issue(name, old.createdDate, old.policy);
      records.set(name, record);
      return issued;
    });
    this.reindex();
    return issued;
  }

  async putPolicy(name: string, policy: unknown): Promise<void> {
    const text = policyTextOf(policy);
    await this.store.update((records) => {
      const record = records.get(name);
      if (!record) throw notFound(name);
      records.set(name, { ...record, policy: text });
    });
    this.reindex();
  }

  getPolicy(name: string): unknown {
    const record = this.store.get(name);
    if (!record) throw notFound(name);
    if (record.policy === undefined) throw new ServiceError('NotFoundException', `principal ${quote(name)} has no policy`);
    return JSON.parse(record.policy);
  }

  /**
   * What the audit trail shows of a token: keyed by the root key, so no one who reads the trail
   * can test guesses of a token against it (a bare hash prefix would let them).
   */
  private tokenIdOf(tokenHash: Buffer): string {
    return `token-${createHmac('sha256', this.rootKey).update('token-id\0').update(tokenHash).digest('hex').slice(0, 16)}`;
  }

  private issue(name: string, createdDate: number, policy: string | undefined) {
    const token = randomBytes(32).toString('base64url');
    const accessKeyId = newAccessKeyId();
    const secretAccessKey = randomBytes(30).toString('base64');
    const partial = { name, createdDate, accessKeyId, policy, tokenHash: sha256(token).toString('hex') };
    const record: PrincipalRecord = { ...partial, sealedSecret: seal(this.rootKey, Buffer.from(secretAccessKey), secretLabel(partial)) };
    return { record, issued: { name, arn: userArn(this.accountId, name), token, accessKeyId, secretAccessKey } };
  }

  private principal(record: PrincipalRecord, credentialId: string, credentialType: Principal['credentialType']): Principal {
    const policy = this.policies.get(record.name);
    return {
      name: record.name,
      arn: userArn(this.accountId, record.name),
      root: false,
      policies: policy ? [policy] : [],
      credentialId,
      credentialType,
      cacheScope: createHash('sha256')
        .update(`${record.name}\0${record.tokenHash}\0${record.accessKeyId}\0${record.policy ?? ''}`)
        .digest('base64url'),
    };
  }

  private describeRecord(record: PrincipalRecord): PrincipalDescription {
    return {
      name: record.name,
      arn: userArn(this.accountId, record.name),
      accessKeyId: record.accessKeyId,
      createdDate: new Date(record.createdDate),
      hasPolicy: record.policy !== undefined,
    };
  }

  /** Lookups by credential and parsed policies, rebuilt after every change. */
  private reindex(): void {
    const records = this.store.all();
    this.byTokenHash = new Map(records.map((r) => [r.tokenHash, r.name]));
    this.byAccessKey = new Map(records.map((r) => [r.accessKeyId, r.name]));
    this.policies = new Map(records.filter((r) => r.policy !== undefined).map((r) => [r.name, parsePolicyDocument(r.policy, 'identity')]));
  }
}

function checkName(name: string): void {
  if (!NAME.test(name) || name.toLowerCase() === 'root') {
    throw invalid(`principal names are 1-64 of A-Z a-z 0-9 + = , . @ _ - and not root (got ${quote(name)})`);
  }
}

/** A policy is checked before it is stored, and stored as compact JSON. */
function policyTextOf(policy: unknown): string {
  const value = typeof policy === 'string' ? safeJson(policy) : policy;
  parsePolicyDocument(value, 'identity');
  return JSON.stringify(value);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ServiceError('MalformedPolicyDocumentException', 'policy: is not valid JSON');
  }
}

function secretLabel(record: Pick<PrincipalRecord, 'name' | 'accessKeyId'>): string {
  return `principal-secret:${record.name}:${record.accessKeyId}`;
}
