# syntax=docker/dockerfile:1
# The identity service as a container: compiled in a build stage that has a C++ toolchain (for
# better-sqlite3, a native module), run from a slim stage as the unprivileged `node` user with the
# SQLite file on a volume. docs/operations.md explains the choices.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary when one exists for this Node and libc; these let
# node-gyp compile it when none does (another CPU, a builder without access to GitHub releases).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The operator console's static files (served at /console; their libraries come from node_modules).
COPY web ./web
# Pruned here rather than reinstalled in the runtime stage: the native binary built above is
# reused as is, and the runtime stage needs no compiler. Same base image, so the same Node ABI.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# SHUTDOWN_TIMEOUT_MS below docker stop's default 10 s, so the service drains before Docker's SIGKILL.
ENV HOST=0.0.0.0 \
  PORT=3000 \
  DATABASE_URL=sqlite:/app/data/contacts.db \
  SHUTDOWN_TIMEOUT_MS=8000
# package.json is needed at run time: its "type": "module" makes dist/*.js ES modules.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web ./web
# Created and owned by `node` before VOLUME, so a fresh named volume starts writable by it.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 3000
# Liveness only (the process answers); readiness with storage is /readyz, for load balancers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself, so `docker stop` drains in-flight requests
# (SHUTDOWN_TIMEOUT_MS=8000 above; keep `docker stop -t` above it if you raise it).
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
