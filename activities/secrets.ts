// Secrets Manager activities: read or set one non-sensitive field (the DB host) of a JSON secret. The secret's other
// fields (the password) stay inside the activity: only version ids and the host enter workflow history.
import { GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { AwsClients } from './aws-clients';
import { PreconditionFailed } from './errors';
import { abortSignal } from './poll';

function parse(secretId: string, text: string | undefined): Record<string, unknown> {
  try {
    const value = JSON.parse(text ?? '') as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new PreconditionFailed(`secret ${secretId} is not a JSON object; cannot set one field of it`);
}

export function createSecretsActivities(aws: AwsClients) {
  return {
    /** The current version id and the value of `key` (meant for the host, never for the password). */
    async getSecretField(input: {
      region: string;
      secretId: string;
      key: string;
    }): Promise<{ versionId: string; value?: string }> {
      const out = await aws
        .secrets(input.region)
        .send(new GetSecretValueCommand({ SecretId: input.secretId }), { abortSignal: abortSignal() });
      const value = parse(input.secretId, out.SecretString)[input.key];
      return { versionId: out.VersionId ?? '', ...(typeof value === 'string' ? { value } : {}) };
    },

    /**
     * Write a new version of the secret with `key` set to `value`, every other field kept. Idempotent: the client
     * request token is derived from the run, so a retry returns the same version instead of writing another.
     */
    async setSecretField(input: {
      region: string;
      secretId: string;
      key: string;
      value: string;
      requestToken: string;
    }): Promise<{ versionId: string; previousVersionId: string; changed: boolean }> {
      const sm = aws.secrets(input.region);
      const current = await sm.send(new GetSecretValueCommand({ SecretId: input.secretId }), {
        abortSignal: abortSignal(),
      });
      const fields = parse(input.secretId, current.SecretString);
      if (fields[input.key] === input.value) {
        return { versionId: current.VersionId ?? '', previousVersionId: current.VersionId ?? '', changed: false };
      }
      const out = await sm.send(
        new PutSecretValueCommand({
          SecretId: input.secretId,
          SecretString: JSON.stringify({ ...fields, [input.key]: input.value }),
          ClientRequestToken: input.requestToken,
        }),
        { abortSignal: abortSignal() },
      );
      return { versionId: out.VersionId ?? '', previousVersionId: current.VersionId ?? '', changed: true };
    },
  };
}
