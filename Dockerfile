# Rivulet image. Three stages: compile with the full toolchain, install production dependencies
# on their own, and a runtime that holds only those two results. docs/deploy.md explains it.
#   docker build -t rivulet .

# Node.js 24 (the current LTS) on Debian 12, slim variant.
FROM node:24-bookworm-slim AS base
WORKDIR /app

# ---- build: TypeScript -> dist/ with every dependency (tsc) -------------------------------------
FROM base AS build
# The manifests alone first, so the dependency layer is reused until they change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/clean-dist.mjs ./scripts/clean-dist.mjs
COPY src ./src
# The demo pages written against npm packages (the AI SDK's useChat) are bundled into public/build/.
COPY web ./web
COPY scripts/build-web.mjs ./scripts/build-web.mjs
RUN npm run build

# ---- prod-deps: production dependencies only, from the same lockfile ---------------------------
# A stage of its own rather than `npm prune` after the build: it builds in parallel with `build`
# and stays cached across source changes. `--omit=optional` too: @nestjs/swagger declares typescript
# an optional peer (for its compiler plugin), which makes the lockfile's typescript "devOptional",
# and `--omit=dev` alone would still install the compiler.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

# ---- runtime --------------------------------------------------------------------------------------
FROM base AS runtime
# tini runs as PID 1: it passes SIGTERM on to Node, so the app drains its streams (readiness false,
# `retry:` hints, exit within SHUTDOWN_GRACE_MS), and it reaps zombie processes. Node as PID 1
# would ignore SIGTERM unless it installs a handler, and `docker run --init` is not used by compose.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

# production: the app refuses to start without AUTH_JWT_SECRET (compose passes it).
ENV NODE_ENV=production \
    PORT=3000

# Code and dependencies stay owned by root: the app's user can read them, not change them.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY public ./public
COPY --from=build /app/public/build ./public/build
COPY scripts/healthcheck.mjs ./scripts/healthcheck.mjs

# The unprivileged user that the Node image provides (uid 1000).
USER node

EXPOSE 3000

# Docker's default, stated: SIGTERM starts the app's graceful drain. Give the container more
# than SHUTDOWN_GRACE_MS before SIGKILL (compose: stop_grace_period).
STOPSIGNAL SIGTERM

# Ready = GET /health/ready answers 2xx (false while draining or while the store is unreachable).
# A Node script, so the image needs no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "scripts/healthcheck.mjs"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
