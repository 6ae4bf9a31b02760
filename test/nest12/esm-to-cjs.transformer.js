/**
 * Jest transformer for the Nest 12 run: Nest 12 ships ES modules only, and Jest (on Node 20)
 * loads CommonJS. TypeScript's transpiler rewrites their import/export to require/exports;
 * `import.meta.url` becomes the file's URL and `import.meta.resolve` `require.resolve`.
 */
const ts = require('typescript');
const { createHash } = require('node:crypto');

module.exports = {
  getCacheKey(source, filename) {
    return createHash('sha1').update('esm-to-cjs-4').update(filename).update(source).digest('hex');
  },
  process(source, filename) {
    const patched = source
      // The module's own require made from import.meta.url: CommonJS already has one.
      .replace(/^const require = createRequire\(import\.meta\.url\);?$/m, '')
      .replace(/\bimport\.meta\.url\b/g, "require('node:url').pathToFileURL(__filename).href")
      .replace(/\bimport\.meta\.resolve\(/g, 'require.resolve(')
      .replace(/\bimport\.meta\.dirname\b/g, '__dirname')
      .replace(/\bimport\.meta\.filename\b/g, '__filename')
      .replace(/\bimport\.meta\b/g, "({ url: require('node:url').pathToFileURL(__filename).href })");
    const { outputText } = ts.transpileModule(patched, {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, allowJs: true, esModuleInterop: true, sourceMap: false },
    });
    return { code: outputText };
  },
};
