import type { ExpirationModel, GrantConstraints, GrantOperation, KeyOrigin, KeyState, Tag } from '../key-management';
import type { KeySpec, KeyUsage } from '../key-specs';

/** A key as the engine keeps it, in memory and (with sealed materials) on disk. Dates are epoch ms. */
export interface KeyRecord {
  keyId: string;
  creationDate: number;
  description: string;
  origin: KeyOrigin;
  /** The region the key is in; absent: Coffer's own region (AWS_REGION). */
  region?: string;
  /**
   * A multi-Region key (`mrk-` id): the region of its primary, the same on every replica, and how
   * many times the primary moved (the record that saw the most moves names the primary).
   */
  multiRegion?: { primaryRegion: string; epoch?: number };
  /** Absent on keys made before Coffer had other specs: SYMMETRIC_DEFAULT. */
  keySpec?: KeySpec;
  /** Absent: ENCRYPT_DECRYPT. */
  keyUsage?: KeyUsage;
  state: Exclude<KeyState, 'Unavailable'>;
  tags: Tag[];
  /**
   * Key material by version, sealed under the root key; rotation appends. A symmetric or HMAC
   * key's material is its secret bytes; an RSA or ECC key's is its DER PKCS#8 private key.
   */
  sealedMaterials: string[];
  /** An RSA or ECC key's DER SubjectPublicKeyInfo, base64: public, so kept unsealed. */
  publicKey?: string;
  deletionDate?: number;
  pendingWindowInDays?: number;
  rotation: { enabled: boolean; periodDays: number; nextRotationDate?: number };
  rotations: { date: number; type: 'AUTOMATIC' | 'ON_DEMAND' }[];
  /** The key policy as given (JSON text); absent: AWS's default key policy. */
  policy?: string;
  /** Grants on the key, oldest first; absent: none. */
  grants?: GrantRecord[];
  imported?: {
    /** HMAC of the first material ever imported: later imports must bring the same bytes. */
    materialDigest: string;
    /**
     * HMAC of each material version, aligned with `sealedMaterials` (on-demand rotation appends);
     * absent on records made before: one version, `materialDigest`.
     */
    versions?: string[];
    /** Material imported with ImportType NEW_KEY_MATERIAL, sealed for the next version: RotateKeyOnDemand makes it current. */
    pending?: { digest: string; sealed: string };
    expirationModel: ExpirationModel;
    validTo?: number;
  };
}

export interface GrantRecord {
  /** 64 hex digits, as AWS's. */
  grantId: string;
  name?: string;
  creationDate: number;
  granteePrincipal: string;
  retiringPrincipal?: string;
  operations: GrantOperation[];
  constraints?: GrantConstraints;
}

export interface AliasRecord {
  targetKeyId: string;
  creationDate: number;
  lastUpdatedDate: number;
}

export interface EngineState {
  version: 1;
  keys: Record<string, KeyRecord>;
  aliases: Record<string, AliasRecord>;
}
