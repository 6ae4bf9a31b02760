#!/usr/bin/env bash
# Runs the unit and e2e suites against NestJS 12 (with @nestjs/terminus 12 and ioredis 6, the
# current majors of the optional peers) in a copy of the repository, so the working tree keeps
# its Nest 11 dependencies. Needs the same broker and Redis as `npm test`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/warren-nest12.XXXXXX")"
trap 'rm -rf "$work"' EXIT

git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$work")
cd "$work"
npm ci --no-audit --no-fund --loglevel=error
# --no-save: the lockfile stays on Nest 11; --legacy-peer-deps: the golevelup bench contender asks for Nest 11.
npm install --no-save --legacy-peer-deps --no-audit --no-fund --loglevel=error \
  @nestjs/common@12 @nestjs/core@12 @nestjs/platform-express@12 @nestjs/platform-fastify@12 @nestjs/microservices@12 @nestjs/testing@12 \
  @nestjs/terminus@12 ioredis@6
npm ls --depth=0 @nestjs/core @nestjs/common @nestjs/terminus ioredis amqplib || true
echo "==> the library builds against NestJS 12 (child-process tests load dist/)"
npm run build --silent
echo "==> unit and e2e suites on NestJS 12"
npx jest --config test/nest12/jest.config.js "$@"
