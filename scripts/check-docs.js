#!/usr/bin/env node
/**
 * Type-checks every ```ts code block of docs/**\/*.md, README.md and the package's
 * README (libs/rabbitmq/README.md, shown on the npm registry).
 *
 * Each block is a complete file (its own imports). The blocks are written to
 * .tmp/docs-check/ with a tsconfig that extends the root one (so `@warren/rabbitmq`
 * resolves to libs/rabbitmq/src), checked with `tsc --noEmit`, and every error is
 * reported as `docs/file.md:LINE:COL`. A block opened with ```ts no-check is skipped.
 *
 * Usage: node scripts/check-docs.js [file.md ...]   (default: README.md, libs/rabbitmq/README.md and docs/)
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, '.tmp', 'docs-check');
const TS_LANGS = new Set(['ts', 'typescript']);

/** Markdown files to check, relative to the repository root. */
function markdownFiles() {
  const given = process.argv.slice(2);
  if (given.length > 0) return given.map((file) => path.relative(ROOT, path.resolve(file)));
  const files = ['README.md', 'libs/rabbitmq/README.md'].filter((file) => fs.existsSync(path.join(ROOT, file)));
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) files.push(rel);
    }
  };
  if (fs.existsSync(path.join(ROOT, 'docs'))) walk('docs');
  return files;
}

/** The fenced code blocks of a Markdown text: language, flags, first code line (1-based) and code. */
function codeBlocks(text) {
  const blocks = [];
  const lines = text.split('\n');
  let open;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!open) {
      const start = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/.exec(line);
      if (start) open = { fence: start[1], lang: start[2].toLowerCase(), flags: start[3].trim().split(/\s+/).filter(Boolean), line: i + 2, code: [] };
    } else if (new RegExp(`^ {0,3}${open.fence[0]}{${open.fence.length},}\\s*$`).test(line)) {
      blocks.push({ ...open, code: open.code.join('\n') });
      open = undefined;
    } else {
      open.code.push(line);
    }
  }
  if (open) throw new Error(`unclosed code block opened at line ${open.line - 1}`);
  return blocks;
}

/** Declarations for optional packages the docs mention but the monorepo does not install. */
const SHIMS = {
  '@nestjs/config': `declare module '@nestjs/config' {
  import type { DynamicModule } from '@nestjs/common';
  export class ConfigService<K = Record<string, unknown>> {
    get<T = any>(propertyPath: string): T | undefined;
    get<T = any>(propertyPath: string, defaultValue: T): T;
    getOrThrow<T = any>(propertyPath: string): T;
  }
  export class ConfigModule {
    static forRoot(options?: { isGlobal?: boolean; envFilePath?: string | string[] }): DynamicModule;
  }
}
`,
};

function installed(name) {
  try {
    require.resolve(`${name}/package.json`, { paths: [ROOT] });
    return true;
  } catch {
    return false;
  }
}

function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });

  /** Generated file (relative to OUT) -> where its first line is in the Markdown. */
  const origins = new Map();
  let checked = 0;
  let skipped = 0;
  const files = markdownFiles();
  for (const file of files) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    let blocks;
    try {
      blocks = codeBlocks(text);
    } catch (error) {
      console.error(`${file}: ${error.message}`);
      process.exitCode = 1;
      continue;
    }
    const slug = file.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '_');
    for (const block of blocks) {
      if (!TS_LANGS.has(block.lang)) continue;
      if (block.flags.includes('no-check')) {
        skipped++;
        continue;
      }
      const name = `${slug}.L${block.line}.ts`;
      // `export {}` makes every block a module, so blocks never share a global scope.
      fs.writeFileSync(path.join(OUT, name), `${block.code}\nexport {};\n`);
      origins.set(name, { file, line: block.line });
      checked++;
    }
  }

  const sources = [...origins.keys()].map((name) => fs.readFileSync(path.join(OUT, name), 'utf8')).join('\n');
  const shims = Object.entries(SHIMS).filter(([name]) => !installed(name) && sources.includes(`'${name}'`));
  for (const [name, declaration] of shims) {
    fs.writeFileSync(path.join(OUT, `shim.${name.replace(/[^A-Za-z0-9]+/g, '_')}.d.ts`), declaration);
  }

  fs.writeFileSync(
    path.join(OUT, 'tsconfig.json'),
    JSON.stringify(
      {
        extends: path.relative(OUT, path.join(ROOT, 'tsconfig.json')),
        compilerOptions: { noEmit: true, incremental: false, sourceMap: false, declaration: false },
        include: ['./*.ts'],
        exclude: [],
      },
      null,
      2,
    ),
  );

  if (checked === 0) {
    console.log(`docs:check: no \`\`\`ts blocks in ${files.length} file(s)`);
    return;
  }

  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(OUT, 'tsconfig.json'), '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8' });
  if (result.error) throw result.error;
  const output = `${result.stdout}${result.stderr}`;

  // tsc prints `path(line,col): error TSxxxx: message`, continuation lines indented.
  const errors = [];
  for (const raw of output.split('\n')) {
    const m = /^(.*?)\((\d+),(\d+)\): (error|warning) (TS\d+): (.*)$/.exec(raw);
    if (m) {
      const generated = path.basename(m[1]);
      const origin = origins.get(generated);
      const where = origin ? `${origin.file}:${origin.line + Number(m[2]) - 1}:${m[3]}` : `${path.relative(ROOT, path.resolve(ROOT, m[1]))}:${m[2]}:${m[3]}`;
      errors.push(`${where} ${m[5]}: ${m[6]}`);
    } else if (raw.trim() && errors.length > 0 && /^\s/.test(raw)) {
      errors[errors.length - 1] += `\n    ${raw.trim()}`;
    } else if (raw.trim()) {
      errors.push(raw.trim());
    }
  }

  const summary =
    `${checked} block(s) from ${files.length} file(s) type-checked` +
    (skipped ? `, ${skipped} marked no-check skipped` : '') +
    (shims.length ? ` (declarations assumed for ${shims.map(([name]) => name).join(', ')}, not installed)` : '');
  if (result.status !== 0 || errors.length > 0) {
    for (const error of errors) console.error(error);
    console.error(`docs:check: ${errors.length} error(s); ${summary}`);
    process.exitCode = 1;
    return;
  }
  console.log(`docs:check: OK, ${summary}`);
}

main();
