# Build stage: compiles src/ and gen/ to dist/ and the dashboard to
# packages/dashboard/dist (needs the dev dependencies).
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/dashboard/package.json ./packages/dashboard/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen ./gen
COPY src ./src
COPY packages/client/src/gen ./packages/client/src/gen
COPY packages/dashboard ./packages/dashboard
RUN npm run build

# Runtime: the compiled JavaScript and the production dependencies only.
FROM node:26-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/dashboard/dist ./packages/dashboard/dist
ENV PORT=8080
EXPOSE 8080
# Probes on $PORT: GET /healthz (alive), GET /readyz (can serve). No
# HEALTHCHECK here: the image also runs `npm run worker`, whose probes are
# opt-in (JETQ_PROBE_PORT); docker-compose.yml sets one per service.
USER node
# The same command as `npm start` (package.json), without npm in between so SIGTERM reaches jetq.
CMD ["node", "--max-semi-space-size=32", "dist/src/main.js"]
