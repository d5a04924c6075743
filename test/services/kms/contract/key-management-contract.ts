import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import type { KeyManagement } from '../../../../src/services/kms/key-management';
import { codeOf } from '../../../support/http';
import { keyTypesContract } from './key-types-contract';

const ARN = /^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;

/**
 * What every KeyManagement adapter must do, in AWS KMS terms. Run against the embedded engine
 * and against the AWS SDK adapter talking to Coffer's KMS-compatible endpoint over HTTP.
 */
export function keyManagementContract(name: string, setup: () => Promise<{ kms: KeyManagement; teardown: () => Promise<void> }>) {
  describe(`KeyManagement contract: ${name}`, () => {
    let kms: KeyManagement;
    let teardown: () => Promise<void>;
    let unique = 0;
    const alias = () => `alias/contract-${Date.now()}-${unique++}`;
    beforeAll(async () => {
      ({ kms, teardown } = await setup());
    });
    afterAll(() => teardown());

    it('creates, describes by every reference form, lists and tags keys', async () => {
      const key = await kms.createKey({ description: 'contract', tags: [{ tagKey: 'k', tagValue: 'v' }] });
      expect(key.arn).toMatch(ARN);
      expect(key.keyState).toBe('Enabled');
      expect(key.description).toBe('contract');
      const a = alias();
      await kms.createAlias(a, key.keyId);
      const aliasArn = key.arn.replace(/key\/.*$/, a);
      for (const ref of [key.keyId, key.arn, a, aliasArn]) expect((await kms.describeKey(ref)).keyId).toBe(key.keyId);
      expect((await kms.listResourceTags(key.keyId, {})).items).toEqual([{ tagKey: 'k', tagValue: 'v' }]);
      const other = await kms.createKey({});
      // Walk every key a page of one at a time: each key exactly once, both of ours among them.
      const seen: string[] = [];
      let page = await kms.listKeys({ limit: 1 });
      expect(page.truncated).toBe(true);
      for (;;) {
        expect(page.items).toHaveLength(1);
        seen.push(page.items[0]!.keyId);
        if (!page.truncated) break;
        expect(page.nextMarker).toEqual(expect.any(String));
        page = await kms.listKeys({ limit: 1, marker: page.nextMarker });
      }
      expect(page.nextMarker).toBeUndefined();
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining([key.keyId, other.keyId]));
      expect(await codeOf(kms.describeKey('11111111-2222-4333-8444-555555555555'))).toBe('NotFoundException');
    });

    it('manages aliases with the AWS rules', async () => {
      const k1 = await kms.createKey({});
      const k2 = await kms.createKey({});
      const a = alias();
      await kms.createAlias(a, k1.keyId);
      expect(await codeOf(kms.createAlias(a, k2.keyId))).toBe('AlreadyExistsException');
      expect(await codeOf(kms.createAlias('alias/aws/mine', k1.keyId))).not.toBe('no error');
      await kms.updateAlias(a, k2.keyId);
      expect((await kms.listAliases({ keyId: k2.keyId })).items.map((x) => x.aliasName)).toContain(a);
      await kms.deleteAlias(a);
      expect(await codeOf(kms.deleteAlias(a))).toBe('NotFoundException');
      expect(await codeOf(kms.describeKey(a))).toBe('NotFoundException');
    });

    it('encrypts, decrypts and re-encrypts with a bound encryption context', async () => {
      const key = await kms.createKey({});
      const other = await kms.createKey({});
      const enc = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('contract'), encryptionContext: { ab: 'c' } });
      expect(enc.keyId).toBe(key.arn);
      const dec = await kms.decrypt({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: { ab: 'c' } });
      expect(dec.plaintext.toString()).toBe('contract');
      expect(dec.keyId).toBe(key.arn);
      expect(await codeOf(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: { a: 'bc' } }))).toBe(
        'InvalidCiphertextException',
      );
      expect(await codeOf(kms.decrypt({ ciphertextBlob: enc.ciphertextBlob, keyId: other.keyId, encryptionContext: { ab: 'c' } }))).toBe(
        'IncorrectKeyException',
      );
      const tampered = Buffer.from(enc.ciphertextBlob);
      tampered[tampered.length - 3]! ^= 0xff;
      expect(await codeOf(kms.decrypt({ ciphertextBlob: tampered, encryptionContext: { ab: 'c' } }))).toBe('InvalidCiphertextException');

      const re = await kms.reEncrypt({
        ciphertextBlob: enc.ciphertextBlob,
        sourceEncryptionContext: { ab: 'c' },
        destinationKeyId: other.keyId,
        destinationEncryptionContext: { x: 'y' },
      });
      expect(re.sourceKeyId).toBe(key.arn);
      expect(re.keyId).toBe(other.arn);
      expect((await kms.decrypt({ ciphertextBlob: re.ciphertextBlob, encryptionContext: { x: 'y' } })).plaintext.toString()).toBe(
        'contract',
      );
      expect(await codeOf(kms.encrypt({ keyId: key.keyId, plaintext: Buffer.alloc(4097) }))).toBe('ValidationException');
    });

    it('generates data keys and random bytes', async () => {
      const key = await kms.createKey({});
      const dk = await kms.generateDataKey({ keyId: key.keyId, keySpec: 'AES_256', encryptionContext: { p: 'w' } });
      expect(dk.plaintext).toHaveLength(32);
      expect((await kms.decrypt({ ciphertextBlob: dk.ciphertextBlob, encryptionContext: { p: 'w' } })).plaintext).toEqual(dk.plaintext);
      expect((await kms.generateDataKey({ keyId: key.keyId, keySpec: 'AES_128' })).plaintext).toHaveLength(16);
      expect((await kms.generateDataKey({ keyId: key.keyId, numberOfBytes: 7 })).plaintext).toHaveLength(7);
      const without = await kms.generateDataKeyWithoutPlaintext({ keyId: key.keyId, keySpec: 'AES_256' });
      expect('plaintext' in without).toBe(false);
      expect(await codeOf(kms.generateDataKey({ keyId: key.keyId, numberOfBytes: 1025 }))).toBe('ValidationException');
      expect(await kms.generateRandom(16)).toHaveLength(16);
    });

    it('enforces key state on cryptographic calls', async () => {
      const key = await kms.createKey({});
      await kms.disableKey(key.keyId);
      expect(await codeOf(kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') }))).toBe('DisabledException');
      await kms.enableKey(key.keyId);
      const blob = (await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') })).ciphertextBlob;
      const scheduled = await kms.scheduleKeyDeletion(key.keyId, 7);
      expect(scheduled.keyState).toBe('PendingDeletion');
      expect(scheduled.keyId).toBe(key.arn);
      expect(await codeOf(kms.decrypt({ ciphertextBlob: blob }))).toBe('KMSInvalidStateException');
      expect(await codeOf(kms.generateDataKey({ keyId: key.keyId, keySpec: 'AES_256' }))).toBe('KMSInvalidStateException');
      await kms.cancelKeyDeletion(key.keyId);
      expect((await kms.describeKey(key.keyId)).keyState).toBe('Disabled');
    });

    it('rotates on demand and automatically; old ciphertext still decrypts', async () => {
      const key = await kms.createKey({});
      const before = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('before') });
      expect((await kms.getKeyRotationStatus(key.keyId)).keyRotationEnabled).toBe(false);
      await kms.enableKeyRotation(key.keyId, 180);
      const status = await kms.getKeyRotationStatus(key.keyId);
      expect(status.keyRotationEnabled).toBe(true);
      expect(status.rotationPeriodInDays).toBe(180);
      expect(await codeOf(kms.enableKeyRotation(key.keyId, 30))).toBe('ValidationException');
      await kms.rotateKeyOnDemand(key.keyId);
      const rotations = await kms.listKeyRotations(key.keyId, {});
      expect(rotations.items.map((r) => r.rotationType)).toEqual(['ON_DEMAND']);
      expect((await kms.decrypt({ ciphertextBlob: before.ciphertextBlob })).plaintext.toString()).toBe('before');
      await kms.disableKeyRotation(key.keyId);
      expect((await kms.getKeyRotationStatus(key.keyId)).keyRotationEnabled).toBe(false);
    });

    it('imports key material and refuses different material later', async () => {
      const key = await kms.createKey({ origin: 'EXTERNAL' });
      expect(key.keyState).toBe('PendingImport');
      const params = await kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const wrap = (p: typeof params, m: Buffer) =>
        publicEncrypt(
          {
            key: createPublicKey({ key: p.publicKey, format: 'der', type: 'spki' }),
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: 'sha256',
          },
          m,
        );
      const material = randomBytes(32);
      await kms.importKeyMaterial({
        keyId: key.keyId,
        importToken: params.importToken,
        encryptedKeyMaterial: wrap(params, material),
        expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      });
      const blob = (await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('mine') })).ciphertextBlob;
      await kms.deleteImportedKeyMaterial(key.keyId);
      expect((await kms.describeKey(key.keyId)).keyState).toBe('PendingImport');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: blob }))).toBe('KMSInvalidStateException');
      const again = await kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_1', 'RSA_3072');
      const wrap1 = (m: Buffer) =>
        publicEncrypt(
          {
            key: createPublicKey({ key: again.publicKey, format: 'der', type: 'spki' }),
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: 'sha1',
          },
          m,
        );
      expect(
        await codeOf(
          kms.importKeyMaterial({ keyId: key.keyId, importToken: again.importToken, encryptedKeyMaterial: wrap1(randomBytes(32)) }),
        ),
      ).toBe('IncorrectKeyMaterialException');
      await kms.importKeyMaterial({ keyId: key.keyId, importToken: again.importToken, encryptedKeyMaterial: wrap1(material) });
      expect((await kms.decrypt({ ciphertextBlob: blob })).plaintext.toString()).toBe('mine');
      // No new material imported (ImportType NEW_KEY_MATERIAL) to rotate to.
      expect(await codeOf(kms.rotateKeyOnDemand(key.keyId))).toBe('KMSInvalidStateException');
    });

    it("keeps one key policy, AWS's default until one is put, and refuses a malformed one", async () => {
      const key = await kms.createKey({});
      const initial = JSON.parse(await kms.getKeyPolicy(key.keyId)) as { Statement: { Principal: { AWS: string } }[] };
      expect(initial.Statement[0]?.Principal.AWS).toBe(`arn:aws:iam::${key.awsAccountId}:root`);
      const policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${key.awsAccountId}:root` }, Action: 'kms:*', Resource: '*' },
        ],
      });
      await kms.putKeyPolicy(key.keyId, policy);
      expect(JSON.parse(await kms.getKeyPolicy(key.arn))).toEqual(JSON.parse(policy));
      expect(await codeOf(kms.putKeyPolicy(key.keyId, '{"Version":"2012-10-17"}'))).toBe('MalformedPolicyDocumentException');
      const created = await kms.createKey({ policy });
      expect(JSON.parse(await kms.getKeyPolicy(created.keyId))).toEqual(JSON.parse(policy));
    });

    it('creates, lists, retires and revokes grants, and refuses what a grant cannot be', async () => {
      const key = await kms.createKey({});
      const root = `arn:aws:iam::${key.awsAccountId}:root`;
      // The principal the run over HTTP acts as (test/support/start-coffer.ts): the retiring principal of grant a.
      const operator = `arn:aws:iam::${key.awsAccountId}:user/operator`;
      const user = `arn:aws:iam::${key.awsAccountId}:user/contract`;
      const constraints = { encryptionContextSubset: { project: 'workshop' } };
      const a = await kms.createGrant({
        keyId: key.keyId,
        granteePrincipal: user,
        retiringPrincipal: operator,
        operations: ['Encrypt'],
        constraints,
      });
      const b = await kms.createGrant({ keyId: key.arn, granteePrincipal: root, operations: ['Decrypt', 'RetireGrant'], name: 'b' });
      expect(a.grantId).toMatch(/^[0-9a-f]{64}$/);
      expect(
        (await kms.createGrant({ keyId: key.arn, granteePrincipal: root, operations: ['Decrypt', 'RetireGrant'], name: 'b' })).grantId,
      ).toBe(b.grantId);
      const listed = await kms.listGrants({ keyId: key.keyId });
      expect(listed.items.map((g) => g.grantId).sort()).toEqual([a.grantId, b.grantId].sort());
      expect(listed.items.find((g) => g.grantId === a.grantId)).toMatchObject({
        keyId: key.arn,
        granteePrincipal: user,
        retiringPrincipal: operator,
        issuingAccount: root,
        operations: ['Encrypt'],
        constraints,
      });
      expect((await kms.listGrants({ keyId: key.keyId, granteePrincipal: user })).items.map((g) => g.grantId)).toEqual([a.grantId]);
      expect((await kms.listRetirableGrants({ retiringPrincipal: operator })).items.map((g) => g.grantId)).toContain(a.grantId);

      await kms.retireGrant({ grantToken: a.grantToken });
      await kms.revokeGrant(key.keyId, b.grantId);
      expect((await kms.listGrants({ keyId: key.keyId })).items).toEqual([]);
      expect(await codeOf(kms.revokeGrant(key.keyId, b.grantId))).toBe('NotFoundException');
      expect(await codeOf(kms.createGrant({ keyId: key.keyId, granteePrincipal: 'nobody', operations: ['Encrypt'] }))).toBe(
        'ValidationException',
      );
      expect(await codeOf(kms.createGrant({ keyId: key.keyId, granteePrincipal: root, operations: ['Sign'] }))).toBe('ValidationException');
      expect(await codeOf(kms.retireGrant({ grantToken: 'bm90IGEgdG9rZW4=' }))).toBe('InvalidGrantTokenException');
    });

    keyTypesContract(() => kms);
  });
}
