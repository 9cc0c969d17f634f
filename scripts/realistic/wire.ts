// What an AWS SDK request is, read off the wire: the service and region (from the SigV4 credential scope), the
// operation and its parameters in each protocol the runbooks' clients speak — query (RDS, ELBv2: form-encoded
// `Action=`), JSON (ECS, CodeDeploy, Secrets Manager, Application Auto Scaling: `X-Amz-Target`), REST-XML (Route 53:
// method + path) — and how AWS answers an error in each.
import http from 'node:http';

export type Protocol = 'query' | 'json' | 'rest-xml' | 'other';

export interface AwsCall {
  service: string;
  region: string;
  operation: string;
  protocol: Protocol;
  /** Query parameters (query protocol) or the JSON body's top-level fields (JSON protocol). */
  params: Record<string, unknown>;
  /** Route 53: the path's resource id (hosted zone or change). */
  pathId?: string;
}

const ROUTE53: [string, RegExp, string][] = [
  ['POST', /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/, 'ChangeResourceRecordSets'],
  ['GET', /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/, 'ListResourceRecordSets'],
  ['GET', /^\/2013-04-01\/change\/([^/]+)$/, 'GetChange'],
];

export function readCall(req: http.IncomingMessage, body: Buffer): AwsCall {
  const auth = String(req.headers.authorization ?? '');
  // Credential=AKID/20261130/us-east-1/rds/aws4_request
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
  const region = scope?.[1] ?? 'us-east-1';
  const service = scope?.[2] ?? '';
  const target = req.headers['x-amz-target'];
  if (target) {
    let params: Record<string, unknown> = {};
    try {
      params = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      /* not JSON: leave empty */
    }
    return { service, region, operation: String(target).split('.').pop() ?? '', protocol: 'json', params };
  }
  if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(body.toString('utf8'));
    const params: Record<string, unknown> = {};
    for (const [k, v] of form) params[k] = v;
    return { service, region, operation: form.get('Action') ?? '', protocol: 'query', params };
  }
  if (service === 'route53') {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    for (const [method, re, operation] of ROUTE53) {
      const m = req.method === method ? re.exec(path) : null;
      if (m) return { service, region, operation, protocol: 'rest-xml', params: {}, pathId: decodeURIComponent(m[1]!) };
    }
    return { service, region, operation: `${req.method} ${path}`, protocol: 'rest-xml', params: {} };
  }
  return { service, region, operation: '', protocol: 'other', params: {} };
}

/** Operations that change something (for counting what was effective). */
export function isMutating(operation: string): boolean {
  // CodeDeploy: CreateDeployment, StopDeployment, ContinueDeployment, SkipWaitTimeForInstanceTermination,
  // PutLifecycleEventHookExecutionStatus.
  return /^(Create|Update|Delete|Modify|Promote|Restore|Register|Deregister|Put|Change|Set|Reboot|Failover|Start|Stop|Tag|Untag|Add|Remove|Reset|Copy|Switchover|Continue|Skip)/.test(
    operation,
  );
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface Answer {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: string;
}

/** An AWS error as the protocol of `call` carries it. */
export function errorAnswer(call: AwsCall, status: number, code: string, message: string): Answer {
  const requestId = `realistic-${Math.random().toString(16).slice(2, 10)}`;
  if (call.protocol === 'json') {
    return {
      status,
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-errortype': code,
        'x-amzn-requestid': requestId,
      },
      body: JSON.stringify({ __type: code, message }),
    };
  }
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body:
      `<ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${xmlEscape(code)}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

/** The text of the first `<tag>…</tag>` in `xml`. */
export function xmlValue(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return m?.[1];
}

/** Replace the text of every `<tag>…</tag>` in `xml`. */
export function withXmlValue(xml: string, tag: string, value: string): string {
  return xml.replace(new RegExp(`<${tag}>[^<]*</${tag}>`, 'g'), `<${tag}>${xmlEscape(value)}</${tag}>`);
}

/** Each `<tag>…</tag>` block of `xml` (not nested in one of its own kind). */
export function xmlBlocks(xml: string, tag: string): string[] {
  return xml.match(new RegExp(`<${tag}>[\\s\\S]*?</${tag}>`, 'g')) ?? [];
}

/** The JSON-protocol target prefix of each service the layer calls on its own. */
export const JSON_TARGETS = {
  ecs: 'AmazonEC2ContainerServiceV20141113',
  codedeploy: 'CodeDeploy_20141006',
} as const;

/**
 * A caller's Authorization header re-scoped to `service`: moto picks the backend (and the region) from the SigV4
 * credential scope and does not check the signature, so the layer can call another service in the caller's region.
 */
export function scopedAuth(auth: string, service: string): string {
  return auth.replace(/(Credential=[^/]+\/\d{8}\/[^/]+\/)[^/]+(\/aws4_request)/, `$1${service}$2`);
}

/** One JSON-protocol call straight to moto (not through the layer): its HTTP status and parsed answer. */
export function upstreamJson(
  upstream: string,
  service: keyof typeof JSON_TARGETS,
  operation: string,
  body: unknown,
  auth: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const r = http.request(new URL('/', upstream), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `${JSON_TARGETS[service]}.${operation}`,
        authorization: scopedAuth(auth, service),
        'content-length': Buffer.byteLength(text),
      },
    });
    r.on('response', (up) => {
      const parts: Buffer[] = [];
      up.on('data', (c: Buffer) => parts.push(c));
      up.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          /* not JSON (an HTML error page): leave empty */
        }
        resolve({ status: up.statusCode ?? 502, json });
      });
    });
    r.on('error', reject);
    r.end(text);
  });
}

/** A JSON-protocol answer. */
export function jsonAnswer(value: unknown, status = 200): Answer {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': `realistic-${Math.random().toString(16).slice(2, 10)}`,
    },
    body: JSON.stringify(value),
  };
}
