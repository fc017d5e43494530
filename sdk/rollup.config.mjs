// Bundles the compiled SDK in build/ into dist/: one ES module and one declaration file.
// The declarations name only the SDK's own dependencies.
import { dts } from 'rollup-plugin-dts';

const external = [/^@trpc\//, /^superjson$/];

export default [
  {
    input: 'build/index.js',
    output: { file: 'dist/index.js', format: 'es' },
    external,
  },
  {
    input: 'build/index.d.ts',
    output: { file: 'dist/index.d.ts', format: 'es' },
    external,
    plugins: [dts()],
  },
];
