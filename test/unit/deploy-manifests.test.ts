// The Kubernetes manifests (deploy/kubernetes/), checked as far as this machine allows without a cluster: every file
// parses; the core kinds pass kubernetes-validate's offline schemas strictly (the PodMonitor CRD has none offline);
// and the parts agree with each other and with the worker — probes on the port the worker serves them on, a
// termination grace longer than the worker's own, a policy the worker accepts, every variable documented.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubeValidateCommand, validateManifests } from '../../scripts/lib/kube-validate';
import { shutdownOptions } from '../../worker/config';
import { parsePolicy } from '../../worker/policy-file';

const root = path.resolve(__dirname, '../..');
const dir = path.join(root, 'deploy', 'kubernetes');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are checked field by field below
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; [k: string]: any };

const manifests: (Manifest & { file: string })[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return { ...(doc.toJS() as Manifest), file };
  }),
);
const one = (kind: string, name?: string) => {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
};

describe('deploy/kubernetes', () => {
  let validator: string;
  beforeAll(() => {
    validator = kubeValidateCommand();
  }, 180_000);

  it('parses, and every resource is in the kustomization', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    const kustomization = one('Kustomization');
    expect([...(kustomization.resources as string[])].sort()).toEqual(
      files.filter((f) => f !== 'kustomization.yaml').sort(),
    );
  });

  it('passes the Kubernetes schemas strictly, for an older release (1.30) and the newest the validator knows', () => {
    const core = files
      .filter((f) => !['podmonitor.yaml', 'kustomization.yaml'].includes(f))
      .map((f) => path.join(dir, f));
    for (const version of ['1.30.0', '1.37.0']) {
      const result = validateManifests(validator, core, version);
      expect(result.ok, result.output).toBe(true);
      // Every core resource was checked against a schema (none skipped as unknown).
      expect(result.output.match(/ passed for resource /g)?.length, result.output).toBe(
        manifests.filter((m) => !['PodMonitor', 'Kustomization'].includes(m.kind)).length,
      );
    }
  });

  it('catches a wrong field (the schema check can fail)', () => {
    const text = readFileSync(path.join(dir, 'deployment.yaml'), 'utf8');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'deploy-manifests-'));
    const bad = path.join(tmp, 'deployment.yaml');
    writeFileSync(bad, text.replace('terminationGracePeriodSeconds:', 'terminationGraceSeconds:'));
    const result = validateManifests(validator, [bad], '1.37.0');
    rmSync(tmp, { recursive: true, force: true });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/terminationGraceSeconds/);
  });

  it('runs the worker non-root on a read-only root, probed on its metrics port, and gives it time to shut down', () => {
    const deployment = one('Deployment');
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    expect(container.command).toEqual(['node', 'dist/worker/main.js']);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
    // /tmp is the one writable place (Node's compile cache, NODE_COMPILE_CACHE in the image).
    expect(container.volumeMounts.map((v: { mountPath: string }) => v.mountPath)).toContain('/tmp');

    const metricsPort = container.ports.find((p: { name: string }) => p.name === 'metrics');
    const config = one('ConfigMap', 'runbooks-worker').data as Record<string, string>;
    expect(config.RUNBOOKS_METRICS_ADDRESS).toBe(`0.0.0.0:${metricsPort.containerPort}`);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics' });
    expect(Number(annotations['prometheus.io/port'])).toBe(metricsPort.containerPort);

    // The kubelet's SIGKILL comes after the worker's whole shutdown: its grace plus the cleanup after it.
    const { shutdownForceTime } = shutdownOptions({ RUNBOOKS_SHUTDOWN_GRACE: config.RUNBOOKS_SHUTDOWN_GRACE });
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(shutdownForceTime));
  });

  it('is one build: its name, version label and image tag agree, and the build ID comes from the image', () => {
    const deployment = one('Deployment');
    const version = deployment.metadata.labels['app.kubernetes.io/version'] as string;
    expect(deployment.spec.selector.matchLabels['app.kubernetes.io/version']).toBe(version);
    expect(deployment.spec.template.metadata.labels['app.kubernetes.io/version']).toBe(version);
    expect(deployment.metadata.name).toBe(`runbooks-worker-${version.replace(/\./g, '-')}`);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toMatch(new RegExp(`:${version.replace(/\./g, '\\.')}$`));
    // A RUNBOOKS_BUILD_ID here could drift from the image it runs: the image's dist/build-id.txt is the one source.
    const config = one('ConfigMap', 'runbooks-worker').data as Record<string, string>;
    expect(config.RUNBOOKS_BUILD_ID).toBeUndefined();
    expect(container.env.map((e: { name: string }) => e.name)).not.toContain('RUNBOOKS_BUILD_ID');
    // The disruption budget and the scrape cover every build's pods, old and new, during an upgrade.
    for (const kind of ['PodDisruptionBudget', 'PodMonitor']) {
      expect(one(kind).spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'runbooks-worker' });
    }
  });

  it('takes its settings from the ConfigMap and the Secret, the Temporal API key from the Secret', () => {
    const container = one('Deployment').spec.template.spec.containers[0];
    const secret = one('Secret', 'runbooks-worker');
    expect(container.envFrom).toEqual([{ configMapRef: { name: 'runbooks-worker' } }]);
    const fromSecret = container.env.filter((e: { valueFrom?: unknown }) => e.valueFrom);
    for (const e of fromSecret) {
      expect(e.valueFrom.secretKeyRef.name).toBe('runbooks-worker');
      expect(Object.keys(secret.stringData)).toContain(e.valueFrom.secretKeyRef.key);
    }
    expect(fromSecret.map((e: { name: string }) => e.name)).toContain('TEMPORAL_API_KEY');
    const config = one('ConfigMap', 'runbooks-worker').data as Record<string, string>;
    for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'RUNBOOKS_TASK_QUEUE', 'RUNBOOKS_DEPLOYMENT_NAME']) {
      expect(config[key], key).toBeTruthy();
    }
    // Every variable the manifests set is one the worker reads, as docs/worker-configuration.md lists them.
    const reference = readFileSync(path.join(root, 'docs', 'worker-configuration.md'), 'utf8');
    const names = [
      ...Object.keys(config),
      ...Object.keys(secret.stringData),
      ...container.env.map((e: { name: string }) => e.name),
    ];
    for (const name of names) expect(reference, name).toContain(`\`${name}\``);
  });

  it('mounts a policy the worker accepts where RUNBOOKS_POLICY_FILE points', () => {
    const pod = one('Deployment').spec.template.spec;
    const config = one('ConfigMap', 'runbooks-worker').data as Record<string, string>;
    const volume = pod.volumes.find((v: { configMap?: { name: string } }) => v.configMap?.name === 'runbooks-policy');
    const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume.name);
    expect(path.posix.join(mount.mountPath, volume.configMap.items[0].path)).toBe(config.RUNBOOKS_POLICY_FILE);
    const policy = one('ConfigMap', 'runbooks-policy').data['policy.yaml'] as string;
    expect(parsePolicy(policy, 'runbooks-policy/policy.yaml').default?.approval?.required).toBe(true);
  });

  it('has an IRSA service account, a disruption budget and a PodMonitor that select the worker pods', () => {
    const deployment = one('Deployment');
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    const sa = one('ServiceAccount');
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.annotations['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::\d{12}:role\/.+/);
    const pdb = one('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.maxUnavailable).toBeLessThan(deployment.spec.replicas);
    const monitor = one('PodMonitor');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    for (const selector of [deployment.spec.selector, pdb.spec.selector, monitor.spec.selector]) {
      expect(labels).toMatchObject(selector.matchLabels);
    }
  });
});
