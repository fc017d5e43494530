// Writes sdk/src/contract.ts, the router's type as the SDK publishes it: every procedure's
// kind, input and output spelled out, with the server's context and metadata left out, so the
// SDK's declarations need neither the server's source nor its packages.
// npm run sdk:contract. With --check, compares instead and exits with 1 when the file is stale.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGET = `${ROOT}sdk/src/contract.ts`;
const PROBE = `${ROOT}sdk-contract-probe.ts`;
const PROBE_SOURCE = `import type { AppRouter } from './server/router.ts';
export type Root = AppRouter['_def']['_config']['$types'];
export type Procedures = AppRouter['_def']['record'];
`;

function compilerOptions(): ts.CompilerOptions {
  const configPath = `${ROOT}tsconfig.json`;
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error)
    throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT).options;
}

/** Builds a program from the probe, which names the router's root types and procedure record. */
function probeProgram() {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (file) => (file === PROBE ? PROBE_SOURCE : readFile(file));
  host.fileExists = (file) => file === PROBE || fileExists(file);
  host.getSourceFile = (file, language, ...rest) =>
    file === PROBE
      ? ts.createSourceFile(file, PROBE_SOURCE, language)
      : getSourceFile(file, language, ...rest);
  const program = ts.createProgram([PROBE], options, host);
  const errors = ts.getPreEmitDiagnostics(program);
  if (errors.length > 0) {
    throw new Error(ts.formatDiagnostics(errors, host));
  }
  return program;
}

const program = probeProgram();
const checker = program.getTypeChecker();
const probe = program.getSourceFile(PROBE);
if (!probe) throw new Error('The probe file failed to load.');
const exported = new Map(
  checker
    .getExportsOfModule(checker.getSymbolAtLocation(probe) as ts.Symbol)
    .map((symbol) => [symbol.name, checker.getDeclaredTypeOfSymbol(symbol)]),
);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Spells a type out structurally, so that no name declared in the server's modules or in a
 * package reaches the published file. Types of the language's own library, such as Date, keep
 * their names.
 */
function print(type: ts.Type, seen: ts.Type[] = []): string {
  const flags = type.flags;
  if (flags & ts.TypeFlags.Any) return 'any';
  if (flags & ts.TypeFlags.Unknown) return 'unknown';
  if (flags & ts.TypeFlags.String) return 'string';
  if (flags & ts.TypeFlags.Number) return 'number';
  if (flags & ts.TypeFlags.Boolean) return 'boolean';
  if (flags & ts.TypeFlags.BigInt) return 'bigint';
  if (flags & ts.TypeFlags.Null) return 'null';
  if (flags & ts.TypeFlags.Undefined) return 'undefined';
  if (flags & ts.TypeFlags.Void) return 'void';
  if (flags & ts.TypeFlags.Never) return 'never';
  if (type.isStringLiteral())
    return `'${type.value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (type.isNumberLiteral()) return String(type.value);
  if (flags & ts.TypeFlags.BooleanLiteral) return checker.typeToString(type);
  if (seen.includes(type))
    throw new Error(`A recursive type cannot be spelled out: ${checker.typeToString(type)}`);
  const inner = [...seen, type];

  if (type.isUnion()) {
    const parts = type.types.map((member) => print(member, inner));
    // The checker splits boolean into its two literals.
    const merged =
      parts.includes('true') && parts.includes('false')
        ? ['boolean', ...parts.filter((part) => part !== 'true' && part !== 'false')]
        : parts;
    return merged.map((part) => (part.includes('=>') ? `(${part})` : part)).join(' | ');
  }
  if (type.isIntersection())
    return type.types.map((member) => `(${print(member, inner)})`).join(' & ');

  if (flags & ts.TypeFlags.Object) {
    const symbol = type.getSymbol();
    const declaration = symbol?.declarations?.[0];
    if (
      symbol &&
      symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class) &&
      declaration &&
      program.isSourceFileDefaultLibrary(declaration.getSourceFile()) &&
      !checker.isArrayType(type)
    ) {
      return symbol.name;
    }

    if (checker.isTupleType(type)) {
      const elements = checker
        .getTypeArguments(type as ts.TypeReference)
        .map((member) => print(member, inner));
      return `[${elements.join(', ')}]`;
    }
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type as ts.TypeReference);
      const prefix = checker.typeToString(type).startsWith('readonly ') ? 'ReadonlyArray' : 'Array';
      return `${prefix}<${print(element as ts.Type, inner)}>`;
    }
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
      throw new Error(`A function type cannot be published: ${checker.typeToString(type)}`);
    }

    const members: string[] = [];
    for (const info of checker.getIndexInfosOfType(type)) {
      members.push(`[key: ${print(info.keyType, inner)}]: ${print(info.type, inner)};`);
    }
    for (const symbol of checker.getPropertiesOfType(type)) {
      const optional = symbol.flags & ts.SymbolFlags.Optional ? '?' : '';
      const name = IDENTIFIER.test(symbol.name) ? symbol.name : `'${symbol.name}'`;
      members.push(`${name}${optional}: ${print(checker.getTypeOfSymbol(symbol), inner)};`);
    }
    return `{ ${members.join(' ')} }`;
  }

  throw new Error(`No way to spell out ${checker.typeToString(type)}.`);
}

function property(type: ts.Type, name: string): ts.Type | undefined {
  const symbol = type.getProperty(name);
  return symbol ? checker.getTypeOfSymbol(symbol) : undefined;
}

function must(type: ts.Type | undefined, part: string): ts.Type {
  if (!type) throw new Error(`The router type has no ${part}.`);
  return type;
}

/** Spells out one level of the procedure record; nested routers are nested object types. */
function record(type: ts.Type, path: string[]): string {
  const entries: string[] = [];
  for (const symbol of checker.getPropertiesOfType(type)) {
    const value = checker.getTypeOfSymbol(symbol);
    const at = [...path, symbol.name];
    const def = property(value, '_def');
    if (def && property(def, 'procedure')) {
      const kind = must(property(def, 'type'), `kind for ${at.join('.')}`);
      const types = must(property(def, '$types'), `types for ${at.join('.')}`);
      const input = print(must(property(types, 'input'), `input for ${at.join('.')}`));
      const output = print(must(property(types, 'output'), `output for ${at.join('.')}`));
      const wrapper = { '"query"': 'Query', '"mutation"': 'Mutation' }[checker.typeToString(kind)];
      if (!wrapper) throw new Error(`${at.join('.')} is neither a query nor a mutation.`);
      entries.push(
        `${symbol.name}: TRPC${wrapper}Procedure<{ input: ${input}; output: ${output}; meta: object }>;`,
      );
    } else {
      entries.push(`${symbol.name}: ${record(value, at)};`);
    }
  }
  return `{\n${entries.join('\n')}\n}`;
}

const root = must(exported.get('Root'), 'root types');
const errorShape = print(must(property(root, 'errorShape'), 'error shape'));
const procedures = record(must(exported.get('Procedures'), 'procedure record'), []);

const raw = `// Generated by \`npm run sdk:contract\` from the server's router. Do not edit by hand.
import type { TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure } from '@trpc/server';

/** The body of an error response, as the server's error formatter writes it. */
export type KycErrorShape = ${errorShape};

/** The back office's procedures, with the types the server checks their inputs and outputs against. */
export type AppRouter = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: KycErrorShape; transformer: true },
  ${procedures}
>;
`;

// Biome lays the file out the way it lays out the rest of the code.
const text = execFileSync(
  `${ROOT}node_modules/.bin/biome`,
  ['format', `--stdin-file-path=${TARGET}`],
  {
    input: raw,
    encoding: 'utf8',
  },
);

if (process.argv.includes('--check')) {
  const stored = await readFile(TARGET, 'utf8').catch(() => '');
  if (stored !== text) {
    process.stderr.write(
      'sdk/src/contract.ts differs from the router. Run `npm run sdk:contract` and commit the result.\n',
    );
    process.exit(1);
  }
  process.stdout.write('sdk/src/contract.ts matches the router.\n');
} else {
  await writeFile(TARGET, text);
  process.stdout.write('Wrote sdk/src/contract.ts.\n');
}
