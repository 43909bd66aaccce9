# Build stage: compiles TypeScript and the better-sqlite3 native addon, then drops dev dependencies.
FROM node:20-bookworm-slim AS build

# better-sqlite3 falls back to a node-gyp source build when no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Manifests first so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
RUN npm ci

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev

# Runtime stage: no compiler toolchain; the addon built above is copied in node_modules.
FROM node:20-bookworm-slim AS runtime

ENV NODE_ENV=production \
  SCIMFLOW_DATA_DIR=/data \
  SCIMFLOW_API_HOST=0.0.0.0

WORKDIR /app

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The admin console's browser files (plain ES modules, served as they are) beside the compiled server.
COPY --from=build /app/src/console/ui ./dist/console/ui

# Created and owned by `node` before VOLUME, so a fresh named volume inherits that ownership and the
# non-root process can create the SQLite file (plus its -wal/-shm companions) there.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]

USER node

EXPOSE 3000

# The API is the default; the worker image is the same with `node dist/worker.js` as the command.
CMD ["node", "dist/api/main.js"]
