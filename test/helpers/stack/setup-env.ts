// Runs in every test process: points the standard AWS SDK chain at the emulator (the same variables a user sets).
import { inject } from 'vitest';

process.env.AWS_ENDPOINT_URL = inject('awsEndpoint');
// CodeDeploy through the layer that plays its deployments out (moto's stay `Created`); the SDK's per-service variable.
process.env.AWS_ENDPOINT_URL_CODEDEPLOY = inject('codeDeployEndpoint');
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.AWS_REGION = 'us-east-1';
