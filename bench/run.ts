/**
 * `npm run bench -- <scenario> [options]`. Scenarios: direct (default), transports, cluster.
 * Each scenario starts its own server process(es) and load-generator processes.
 */
const scenarios: Record<string, () => Promise<{ run(argv: string[]): Promise<unknown> }>> = {
  direct: () => import('./direct.ts'),
  cluster: () => import('./cluster.ts'),
  transports: () => import('./transports.ts'),
  density: () => import('./density.ts'),
  storm: () => import('./storm.ts'),
  group: () => import('./group.ts'),
};

const [name = 'direct', ...rest] = process.argv.slice(2);
const load = scenarios[name];
if (!load) {
  console.error(`unknown scenario "${name}"; one of: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
(await load()).run(rest).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
