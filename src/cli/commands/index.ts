import type { Command } from 'commander';
import { registerDockerfileCommands } from './dockerfile.js';
import { registerEngineProxyCommands } from './engine-proxy.js';
import { registerImageCommands } from './image.js';
import { registerImageTrustCommands } from './image-trust.js';
import { registerK8sCommands } from './k8s.js';
import { registerKeyCommands } from './key.js';
import { registerRegistryCommands } from './registry.js';
import { registerRbacCommands } from './rbac.js';
import { registerNetpolCommands } from './netpol.js';
import { registerImageSbomCommand, registerSbomCommands } from './sbom.js';
import { registerVersionCommands } from './version.js';
import { registerDbCommands } from './db.js';
import { registerFsCommands, registerImageScanCommand } from './scan.js';
import { registerRuntimeCommands } from './runtime.js';
import { registerSensorCommands } from './sensor.js';
import { registerPolicyCommands } from './policy.js';
import { registerServerCommands } from './server.js';
import { registerTokenCommands } from './token.js';
import { registerSourceCommands } from './sources.js';
import { registerCiCommands } from './ci.js';
import { registerRegistryWatchCommands } from './registry-watch.js';

/** Every command group, one line each. */
export function registerCommands(program: Command): void {
  const image = registerImageCommands(program);
  registerImageTrustCommands(image);
  registerImageSbomCommand(image);
  registerSbomCommands(program);
  registerKeyCommands(program);
  registerRegistryCommands(program);
  registerK8sCommands(program);
  registerRbacCommands(program);
  registerDockerfileCommands(program);
  registerNetpolCommands(program);
  registerEngineProxyCommands(program);
  registerVersionCommands(program);
  registerDbCommands(program);
  registerImageScanCommand(image);
  registerFsCommands(program);
  registerRuntimeCommands(program);
  registerSensorCommands(program);
  registerPolicyCommands(program);
  registerServerCommands(program);
  registerTokenCommands(program);
  registerSourceCommands(program);
  registerCiCommands(program);
  registerRegistryWatchCommands(program);
}
