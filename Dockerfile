# syntax=docker/dockerfile:1
# vessl-secrets server image: one image, three services (the Deployment picks the entry point,
# e.g. `node dist/services/key-management/main.js`). Build from the repository root:
#   docker build -t registry.example.com/vessl/vessl-secrets:0.1.0 .
ARG NODE_IMAGE=node:20.20-bookworm

# ---- build: dependencies (better-sqlite3 may compile: python3, make, g++ are in this image),
# TypeScript (and the vesslctl bundle), then drop the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Never --omit=optional here: @bufbuild/buf ships its binary that way (TOOLCHAIN.md).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY services ./services
COPY cli ./cli
COPY bin ./bin
COPY scripts/build-cli.ts ./scripts/
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime: compiled JavaScript, production node_modules, the reflection descriptor set.
FROM ${NODE_IMAGE}-slim AS runtime
ENV NODE_ENV=production \
    VESSL_DATA_DIR=/var/lib/vessl
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/services/gen/descriptors.binpb ./services/gen/descriptors.binpb
# A numeric non-root user (Kubernetes checks runAsNonRoot against the number); nothing in
# /app is writable by it. The data dir is a volume in a cluster.
RUN mkdir -p /var/lib/vessl && chown 10001:10001 /var/lib/vessl && chmod 0700 /var/lib/vessl
USER 10001:10001
EXPOSE 8443 8081 9464
# The Deployments set the command; by default print how to run the server.
CMD ["node", "bin/vessl-secrets.js", "--help"]
