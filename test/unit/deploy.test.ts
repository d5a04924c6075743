import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { knownVariables, loadConfig } from '../../src/config';
import { REPO_ROOT } from '../support/paths';

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const known = new Set(knownVariables());

/** compose's `${NAME:?message}` and `${NAME:-default}`: a sample value, or the default. */
function substitute(value: string): string {
  return value.replace(/\$\{(\w+):([?-])([^}]*)\}/g, (_m, name: string, kind: string, rest: string) =>
    kind === '-' ? rest : name === 'COFFER_ROOT_KEY' ? Buffer.alloc(32, 7).toString('base64') : `sample-${name.toLowerCase()}-value`,
  );
}

describe('deploy/compose.yaml', () => {
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string>; ports?: string[] }>;
  };
  const replicas = Object.entries(compose.services).filter(([name]) => name.startsWith('coffer'));

  it('runs two Coffer replicas, PostgreSQL and an S3-compatible store', () => {
    expect(replicas.map(([name]) => name)).toEqual(['coffer-a', 'coffer-b']);
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'minio']));
  });

  it.each(['coffer-a', 'coffer-b'])('sets only variables src/config.ts knows on %s, and a configuration it accepts', (name) => {
    const env = compose.services[name]!.environment!;
    expect(Object.keys(env).filter((v) => !known.has(v))).toEqual([]);
    const config = loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, substitute(String(v))])));
    expect([config.databaseUrl, config.storageBackend]).toEqual(['postgres://coffer:coffer@postgres:5432/coffer', 's3']);
  });
});

describe('deploy/kubernetes', () => {
  const docs = ['deployment.yaml', 'service.yaml', 'pdb.yaml', 'secret.example.yaml'].flatMap((f) =>
    parseAllDocuments(read(`deploy/kubernetes/${f}`)).map(
      (d) => d.toJS() as { kind: string; spec: Record<string, never>; stringData?: object },
    ),
  );
  const of = (kind: string) => docs.find((d) => d.kind === kind)!;
  const deployment = of('Deployment') as unknown as {
    spec: {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      template: {
        spec: {
          containers: {
            env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
            readinessProbe: { httpGet: { path: string } };
            livenessProbe: { httpGet: { path: string } };
          }[];
        };
      };
    };
  };
  const container = deployment.spec.template.spec.containers[0]!;

  it('sets only variables src/config.ts knows, secrets by reference to the Secret', () => {
    expect(container.env.map((e) => e.name).filter((v) => !known.has(v))).toEqual([]);
    const secret = of('Secret') as { stringData?: Record<string, string> };
    for (const e of container.env.filter((x) => x.valueFrom))
      expect(Object.keys(secret.stringData!)).toContain(e.valueFrom!.secretKeyRef.key);
    for (const secretVar of ['COFFER_ROOT_KEY', 'COFFER_ROOT_TOKEN', 'COFFER_DATABASE_URL']) {
      expect(container.env.find((e) => e.name === secretVar)?.valueFrom?.secretKeyRef.name).toBe('coffer');
    }
  });

  it('probes readiness on /readyz and liveness on /healthz, keeps one replica through disruptions, and selects its pods', () => {
    expect([container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path]).toEqual(['/readyz', '/healthz']);
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    const labels = deployment.spec.selector.matchLabels;
    expect((of('Service') as unknown as { spec: { selector: object } }).spec.selector).toEqual(labels);
    const pdb = of('PodDisruptionBudget') as unknown as { spec: { minAvailable: number; selector: { matchLabels: object } } };
    expect([pdb.spec.minAvailable, pdb.spec.selector.matchLabels]).toEqual([1, labels]);
  });
});

describe('the README', () => {
  it('documents every variable Coffer reads in its configuration table', () => {
    const table = read('README.md').split('<!-- section: configuration -->')[1]!.split('<!-- /section: configuration -->')[0]!;
    const coffer = [...known].filter((v) => v.startsWith('COFFER_') || v === 'PORT' || v === 'AWS_REGION');
    expect(coffer.filter((v) => !table.includes(`\`${v}\``))).toEqual([]);
  });
});
