// Jest transformer for the ESM-only packages in node_modules (Nest 12's @nestjs/*, jose 6).
//
// Node 20 loads them from our CommonJS build with require(esm), but Jest's module runtime on Node
// below 24.9 cannot, so Jest gets them compiled to CommonJS, like our own sources. TypeScript
// refuses to compile `import.meta` to CommonJS, so its uses (import.meta.url, .dirname,
// .filename, .resolve, as Nest's package loaders use it) are first replaced with their CommonJS
// equivalents for the same file, and a module's own `const require = createRequire(import.meta.url)`
// is dropped in favour of the CommonJS `require` of that same file (a redeclaration otherwise).
'use strict';
const { createHash } = require('node:crypto');
const ts = require('typescript');

const IMPORT_META =
  '({ url: require("node:url").pathToFileURL(__filename).href, dirname: __dirname, ' +
  'filename: __filename, resolve: (s) => require("node:url").pathToFileURL(require.resolve(s)).href })';

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  allowJs: true,
  esModuleInterop: true,
  sourceMap: true,
  inlineSources: true,
};

module.exports = {
  getCacheKey(source, path) {
    return createHash('sha256')
      .update(ts.version)
      .update('\0esm-to-cjs-2\0')
      .update(path)
      .update('\0')
      .update(source)
      .digest('hex');
  },
  process(source, path) {
    const { outputText, sourceMapText } = ts.transpileModule(
      source
        .replace(/\b(?:const|let|var) require = /g, 'const esmOwnRequire = ')
        .replace(/\bimport\.meta\b/g, IMPORT_META),
      { compilerOptions, fileName: path },
    );
    return { code: outputText, map: sourceMapText };
  },
};
