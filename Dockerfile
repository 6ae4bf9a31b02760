# syntax=docker/dockerfile:1
# One image for every sample service (and the demo); the service is chosen at run time:
#   docker run -e SERVICE=payments -e AMQP_URL=... -e REDIS_URL=... warren-sample
# SERVICE is one of orders, inventory, payments, notifications, demo.

ARG NODE_VERSION=20-bookworm-slim

# ---- build: install everything, compile the library and the apps ----
FROM node:${NODE_VERSION} AS build
WORKDIR /app
# Manifests first, so the dependency layer is cached until they change.
COPY package.json package-lock.json ./
COPY libs/rabbitmq/package.json libs/rabbitmq/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY libs/rabbitmq libs/rabbitmq
COPY apps apps
RUN npm run build && npm run build:apps

# ---- production dependencies only ----
FROM node:${NODE_VERSION} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/rabbitmq/package.json libs/rabbitmq/
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime: compiled output and production node_modules ----
FROM node:${NODE_VERSION} AS runtime
ENV NODE_ENV=production \
    SERVICE=orders \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/libs/rabbitmq/package.json libs/rabbitmq/
COPY --from=build /app/libs/rabbitmq/dist libs/rabbitmq/dist
COPY --from=build /app/dist/apps dist/apps
# The demo writes the services' logs to .tmp/demo.
RUN mkdir -p .tmp && chown node:node .tmp
USER node
EXPOSE 3000
# exec: node replaces the shell as PID 1 and gets SIGTERM directly (graceful shutdown on `docker stop`).
CMD ["sh", "-c", "exec node dist/apps/${SERVICE}/src/main.js"]
