/**
 * Every command group, one entry each: the top-level command names it registers and how to
 * load it. A group's module (and so the engines it imports) is loaded only when its command
 * runs, so `gatehouse image scan` does not pay for Central, the sensor or the proxy, and
 * `gatehouse --version` loads none.
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;

export interface CommandGroup {
  /** Top-level command names the group adds. */
  names: readonly string[];
  load(): Promise<Register>;
}

export const COMMAND_GROUPS: readonly CommandGroup[] = [
  {
    names: ['image'],
    load: async () => {
      const [image, trust, sbom, scan] = await Promise.all([import('./image.js'), import('./image-trust.js'), import('./sbom.js'), import('./scan.js')]);
      return (program) => {
        const group = image.registerImageCommands(program);
        trust.registerImageTrustCommands(group);
        sbom.registerImageSbomCommand(group);
        scan.registerImageScanCommand(group);
      };
    },
  },
  { names: ['key'], load: async () => (await import('./key.js')).registerKeyCommands },
  {
    names: ['registry'],
    load: async () => {
      const [registry, watch] = await Promise.all([import('./registry.js'), import('./registry-watch.js')]);
      return (program) => {
        registry.registerRegistryCommands(program);
        watch.registerRegistryWatchCommands(program);
      };
    },
  },
  { names: ['k8s'], load: async () => (await import('./k8s.js')).registerK8sCommands },
  { names: ['rbac'], load: async () => (await import('./rbac.js')).registerRbacCommands },
  { names: ['dockerfile'], load: async () => (await import('./dockerfile.js')).registerDockerfileCommands },
  { names: ['netpol'], load: async () => (await import('./netpol.js')).registerNetpolCommands },
  { names: ['engine-proxy'], load: async () => (await import('./engine-proxy.js')).registerEngineProxyCommands },
  { names: ['version'], load: async () => (await import('./version.js')).registerVersionCommands },
  { names: ['db'], load: async () => (await import('./db.js')).registerDbCommands },
  {
    names: ['fs'],
    load: async () => {
      const [sbom, scan] = await Promise.all([import('./sbom.js'), import('./scan.js')]);
      return (program) => {
        sbom.registerSbomCommands(program);
        scan.registerFsCommands(program);
      };
    },
  },
  { names: ['runtime'], load: async () => (await import('./runtime.js')).registerRuntimeCommands },
  { names: ['sensor'], load: async () => (await import('./sensor.js')).registerSensorCommands },
  { names: ['policy'], load: async () => (await import('./policy.js')).registerPolicyCommands },
  { names: ['server'], load: async () => (await import('./server.js')).registerServerCommands },
  { names: ['token'], load: async () => (await import('./token.js')).registerTokenCommands },
  { names: ['cluster', 'host'], load: async () => (await import('./sources.js')).registerSourceCommands },
  { names: ['ci'], load: async () => (await import('./ci.js')).registerCiCommands },
  { names: ['admission'], load: async () => (await import('./admission.js')).registerAdmissionCommands },
  { names: ['node'], load: async () => (await import('./node.js')).registerNodeCommands },
  { names: ['compliance'], load: async () => (await import('./compliance.js')).registerComplianceCommands },
  { names: ['respond'], load: async () => (await import('./respond.js')).registerRespondCommands },
  { names: ['evidence'], load: async () => (await import('./evidence.js')).registerEvidenceCommands },
  { names: ['baseline'], load: async () => (await import('./baseline.js')).registerBaselineCommands },
  { names: ['incidents'], load: async () => (await import('./incidents.js')).registerIncidentsCommands },
  { names: ['identity'], load: async () => (await import('./identity.js')).registerIdentityCommands },
  { names: ['simulate'], load: async () => (await import('./simulate.js')).registerSimulateCommands },
];

/**
 * Registers the groups `argv` needs: the one its first word names, none for a bare
 * `--version`, every group otherwise (top-level help, an unknown command's suggestions).
 */
export async function registerCommands(program: Command, argv?: readonly string[]): Promise<void> {
  const words = argv?.slice(2) ?? [];
  const first = words.find((w) => !w.startsWith('-'));
  const only = first === undefined ? undefined : COMMAND_GROUPS.find((g) => g.names.includes(first));
  if (first === undefined && words.length > 0 && words.every((w) => w === '--version' || w === '-V')) return;
  for (const group of only ? [only] : COMMAND_GROUPS) (await group.load())(program);
}
