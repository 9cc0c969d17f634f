# The runbooks worker as an image: `docker build -t durable-runbooks-worker .` (docs/deploying.md).
#
# Two stages. The build stage has every dependency (TypeScript, tsx, webpack through the Temporal SDK) and runs
# `npm run build`: the compiled worker, the prebuilt workflow bundle and the build ID, all in dist/. The runtime stage
# has production dependencies only and runs the compiled worker with plain node — the same steps as
# test/e2e/production-tree.test.ts, which runs a worker from such a tree.

# ---- build ----
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The Worker Versioning build ID (worker/versioning.ts); without it the build derives one from what it built.
ARG BUILD_ID=""
# true: the bundle keeps failure messages out of clear history; needed to run with the payload codec on
# (RUNBOOKS_CODEC_KEYS, docs/encryption.md), which the worker otherwise refuses.
ARG ENCODE_FAILURES="false"
RUN RUNBOOKS_BUILD_ID="$BUILD_ID" RUNBOOKS_ENCODE_FAILURES="$ENCODE_FAILURES" npm run build

# ---- runtime ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
# Metrics and the health endpoints (/metrics, /healthz, /readyz) must be reachable from outside the container.
ENV RUNBOOKS_METRICS_ADDRESS=0.0.0.0:9464
# Node's compile cache (worker/compile-cache.ts) in /tmp: with a read-only root file system, mount a volume there.
ENV NODE_COMPILE_CACHE=/tmp/node-compile-cache
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts (none are needed: the Temporal core bridge ships prebuilt).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# The compiled worker, the prebuilt workflow bundle (dist/workflow-bundle.js) and dist/build-id.txt.
COPY --from=build /app/dist ./dist
# The example policies; a deployment mounts its own file and points RUNBOOKS_POLICY_FILE at it.
COPY policies ./policies
# Not root: the image's `node` user (uid 1000) owns nothing it could use to change the image's files.
USER node
EXPOSE 9464
# Live once the health endpoint answers (worker/telemetry.ts); node, since the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop, Kubernetes) starts the graceful shutdown: RUNBOOKS_SHUTDOWN_GRACE for running activities.
STOPSIGNAL SIGTERM
CMD ["node", "dist/worker/main.js"]
