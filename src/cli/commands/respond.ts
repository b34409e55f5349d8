/**
 * `gatehouse respond …`: the response actions by hand (a thin shell over src/respond/).
 *   respond kill|pause|stop|isolate|restart CONTAINER [--host URL] [--dry-run]
 *   respond kill-process CONTAINER PID [--host-pid]
 *   respond label|annotate|isolate|delete|scale-to-zero|cordon KIND/NS/NAME --cluster
 *           [--kubeconfig F] [--context C] [--dry-run] [--set k=v]
 * Each run appends one record to the response audit log (--audit-log, default
 * $GATEHOUSE_RESPOND_AUDIT, else ~/.local/state/gatehouse/respond-audit.jsonl). Destructive
 * actions capture evidence first when --evidence-dir is given. Exit 0 when the action took
 * effect, was already in effect or was a dry run; 1 when it was refused; 2 on an error.
 */
import { userInfo } from 'node:os';
import type { KeyObject } from 'node:crypto';
import { Option, type Command } from 'commander';
import { JsonlAuditLog, defaultAuditLog } from '../../respond/audit.js';
import { containerIsolate } from '../../respond/container-isolate.js';
import { containerKill } from '../../respond/container-kill.js';
import { containerPause } from '../../respond/container-pause.js';
import { containerRestart } from '../../respond/container-restart.js';
import { containerStop } from '../../respond/container-stop.js';
import { EngineApi, defaultEngineEndpoint } from '../../respond/engine.js';
import { evidenceCapture } from '../../respond/evidence-hook.js';
import { trustPolicyCheck, trustedKeysCheck, type ImageTrustCheck } from '../../respond/image-trust.js';
import { KubeApi, parseKubeTarget } from '../../respond/kube-api.js';
import { kubeCordon } from '../../respond/kube-cordon.js';
import { kubeDelete } from '../../respond/kube-delete.js';
import { kubeIsolate } from '../../respond/kube-isolate.js';
import { kubeLabel, parseAssignments } from '../../respond/kube-label.js';
import { kubeScaleToZero } from '../../respond/kube-scale.js';
import { processKill } from '../../respond/process-kill.js';
import { runAction } from '../../respond/run.js';
import { describeTarget, type ActionResult, type ResponseAction, type ResponseTarget, type Trigger } from '../../respond/types.js';
import { loadPrivateKey, loadPublicKey } from '../../trust/keys.js';
import { loadTrustPolicy } from '../../trust/policy.js';
import { UserError, describeError } from '../../util/errors.js';
import { FalcoJsonNotifier } from '../../respond/notify/falco.js';
import { resultNotice, type Notifier } from '../../respond/notify/notice.js';
import { SlackNotifier } from '../../respond/notify/slack.js';
import { SyslogNotifier } from '../../respond/notify/syslog.js';
import { WebhookNotifier } from '../../respond/notify/webhook.js';
import { formatOption, outputOption, writeOutput } from '../report-options.js';
import { envOrPrompt } from './key.js';
import { existsSync } from 'node:fs';

interface CommonOptions {
  dryRun?: boolean;
  format: string;
  output?: string;
  auditLog?: string;
  incident?: string;
  reason?: string;
  evidenceDir?: string;
  evidenceKey?: string;
  webhook?: string;
  slack?: string;
  syslog?: string;
  falcoOutput?: string;
}
interface HostOptions extends CommonOptions {
  host?: string;
  cluster?: boolean;
}
interface ClusterOptions extends CommonOptions {
  cluster?: boolean;
  kubeconfig?: string;
  context?: string;
  set?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function addCommon(cmd: Command): Command {
  return cmd
    .option('--dry-run', 'say what would be done; change nothing')
    .addOption(formatOption(['table', 'json']))
    .addOption(outputOption('result'))
    .option('--audit-log <file>', 'append the audit record here (default $GATEHOUSE_RESPOND_AUDIT, else ~/.local/state/gatehouse/respond-audit.jsonl)')
    .option('--incident <id>', 'the incident this action answers (kept in the audit record)')
    .option('--reason <text>', 'why (kept in the audit record)')
    .option('--webhook <url>', 'also POST the result as JSON to this URL')
    .option('--slack <url>', 'also post the result to this Slack-compatible incoming webhook')
    .option('--syslog <url>', 'also send the result to syslog (RFC 5424) at udp://HOST[:PORT] or tcp://HOST[:PORT]')
    .option('--falco-output <file>', "also append the result as a Falco JSON alert line to this file ('-' for stdout)");
}

/** The notifiers the flags ask for (checked before anything is done). */
function notifiers(o: CommonOptions): Notifier[] {
  const list: Notifier[] = [];
  if (o.webhook) list.push(new WebhookNotifier(o.webhook));
  if (o.slack) list.push(new SlackNotifier(o.slack));
  if (o.syslog) list.push(new SyslogNotifier({ url: o.syslog }));
  if (o.falcoOutput) list.push(new FalcoJsonNotifier(o.falcoOutput));
  return list;
}

/** Sends the result to every notifier; a failed channel is a warning line, not a failed action. */
async function notifyAll(list: Notifier[], result: ActionResult, t: Trigger): Promise<void> {
  if (!list.length) return;
  const notice = resultNotice(result, t, new Date());
  for (const n of list) {
    try {
      await n.send(notice);
    } catch (e) {
      process.stderr.write(`gatehouse: warning: ${n.name} notification failed: ${describeError(e)}\n`);
    } finally {
      await n.close?.();
    }
  }
}

function addHost(cmd: Command): Command {
  return cmd
    .option('--host <url>', "container engine API (unix:///path or tcp://host:port; default $DOCKER_HOST, else podman's socket)")
    .option('--evidence-dir <dir>', 'capture a forensic evidence bundle into this folder before a destructive action')
    .option('--evidence-key <file>', 'sign the evidence bundle with this private key (passphrase from GATEHOUSE_PASSWORD/COSIGN_PASSWORD)');
}

function addCluster(cmd: Command): Command {
  return cmd
    .option('--cluster', 'act on the live cluster of the kubeconfig (required for Kubernetes targets)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current one)');
}

function trigger(o: CommonOptions): Trigger {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER;
  }
  return { by: 'user', ...(user ? { user } : {}), ...(o.incident ? { incident: o.incident } : {}), ...(o.reason ? { reason: o.reason } : {}) };
}

async function finish(result: ActionResult, o: CommonOptions): Promise<void> {
  if (o.format === 'json') await writeOutput(`${JSON.stringify(result, null, 2)}\n`, o);
  else {
    const head = result.outcome === 'dry-run' ? 'dry run' : result.outcome;
    await writeOutput(`${result.action} ${describeTarget(result.target)}: ${head}: ${result.detail}${result.evidence ? `\nevidence: ${result.evidence}` : ''}\n`, o);
  }
  if (result.outcome === 'refused') {
    if (o.format === 'json') process.stderr.write(`gatehouse: ${result.action} refused: ${result.detail}\n`);
    process.exitCode = 1;
  } else if (result.outcome === 'failed') {
    process.stderr.write(`gatehouse: ${result.action} failed: ${result.detail}\n`);
    process.exitCode = 2;
  }
}

async function evidenceKey(path: string | undefined): Promise<KeyObject | undefined> {
  return path ? loadPrivateKey(path, envOrPrompt(path)) : undefined;
}

async function runHost(
  name: string,
  container: string,
  o: HostOptions,
  make: (engine: EngineApi) => ResponseAction<any> | Promise<ResponseAction<any>>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  if (o.cluster) throw new UserError(`respond ${name} --cluster takes KIND/NS/NAME; ${name === 'isolate' ? 'this form' : name} acts on a container (drop --cluster)`, 'usage');
  if (!container.trim()) throw new UserError('a container id or name is required', 'usage');
  const endpoint = o.host ?? defaultEngineEndpoint(process.env, existsSync);
  const engine = new EngineApi(endpoint);
  try {
    const action = await make(engine);
    const signingKey = await evidenceKey(o.evidenceKey);
    const target = { type: 'container' as const, container, endpoint, ...extra };
    const notify = notifiers(o);
    const evidence = o.evidenceDir ? evidenceCapture({ dir: o.evidenceDir, host: endpoint, ...(signingKey ? { signingKey } : {}) }) : undefined;
    try {
      const t = trigger(o);
      const result = await runAction(action, target, {
        trigger: t,
        dryRun: o.dryRun ?? false,
        audit: new JsonlAuditLog(o.auditLog ?? defaultAuditLog()),
        ...(evidence ? { evidence } : {}),
      });
      await notifyAll(notify, result, t);
      await finish(result, o);
    } finally {
      await evidence?.close();
    }
  } finally {
    await engine.close();
  }
}

async function runCluster(name: string, text: string, o: ClusterOptions, make: (api: KubeApi) => ResponseAction<any>, kinds?: readonly string[]): Promise<void> {
  if (!o.cluster) throw new UserError(`respond ${name} ${text}: Kubernetes targets need --cluster (with --kubeconfig/--context as needed)`, 'usage');
  const target: ResponseTarget = parseKubeTarget(text, kinds);
  const api = KubeApi.connect({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), ...(o.context ? { context: o.context } : {}) });
  const action = make(api);
  const notify = notifiers(o);
  const t = trigger(o);
  const result = await runAction(action, { ...target, cluster: api.cluster }, {
    trigger: t,
    dryRun: o.dryRun ?? false,
    audit: new JsonlAuditLog(o.auditLog ?? defaultAuditLog()),
  });
  await notifyAll(notify, result, t);
  await finish(result, o);
}

export function registerRespondCommands(program: Command): void {
  const respond = program
    .command('respond')
    .description('response actions on a container (Docker/podman engine API) or a Kubernetes object (--cluster): dry-run, idempotent, audited');

  const hostAction = (name: string, description: string, make: (engine: EngineApi, o: any) => ResponseAction<any> | Promise<ResponseAction<any>>) =>
    addCommon(addHost(respond.command(name).description(description).argument('<container>', 'container id or name'))).action((container: string, o: HostOptions) => runHost(name, container, o, (e) => make(e, o)));

  hostAction('kill', 'kill a container (SIGKILL; evidence first with --evidence-dir)', (e) => containerKill(e));
  hostAction('stop', 'stop a container (SIGTERM, SIGKILL after --time seconds)', (e, o: { time: number }) => containerStop(e, { graceSeconds: o.time }))
    .addOption(new Option('-t, --time <seconds>', 'seconds to wait before killing').default(10).argParser(seconds));
  hostAction('pause', 'pause a container (freeze its processes; nothing is lost)', (e) => containerPause(e));
  const restart = hostAction('restart', 'replace a container with a new one from its image, after verifying the image signature (--key or --policy, as image verify)', async (e, o: { key?: string[]; policy?: string; insecure?: boolean; authfile?: string }) => {
    if (!o.key?.length && !o.policy) throw new UserError('respond restart needs --key PUB or --policy FILE (the image signature is verified first)', 'usage');
    if (o.key?.length && o.policy) throw new UserError('give either --key or --policy, not both (the policy names its keys)', 'usage');
    const access = { ...(o.insecure ? { insecure: true } : {}), ...(o.authfile ? { authFile: o.authfile } : {}) };
    let check: ImageTrustCheck;
    if (o.policy) check = trustPolicyCheck(await loadTrustPolicy(o.policy), access);
    else check = trustedKeysCheck(await Promise.all(o.key!.map(async (path) => ({ name: path, key: await loadPublicKey(path) }))), access);
    return containerRestart(e, check);
  });
  restart
    .option('--key <file>', 'trusted public key PEM (repeatable; any one suffices)', collect)
    .option('--policy <file>', 'trust policy YAML, as image verify --policy')
    .option('--insecure', 'use plain HTTP for the registry (loopback registries always use it)')
    .option('--authfile <file>', 'registry credentials file');

  addCommon(addHost(
    respond
      .command('kill-process')
      .description('kill one process of a container, leaving the container running')
      .argument('<container>', 'container id or name')
      .argument('<pid>', 'process id inside the container (or the host pid with --host-pid)')
      .option('--host-pid', "PID is the host's process id (this host only; checked to be in the container)")
      .addOption(new Option('--signal <name>', 'signal').choices(['KILL', 'TERM']).default('KILL')),
  )).action((container: string, pidText: string, o: HostOptions & { hostPid?: boolean; signal: 'KILL' | 'TERM' }) => {
    if (!/^\d+$/.test(pidText) || Number(pidText) < 1) throw new UserError(`"${pidText}" is not a process id`, 'usage');
    const pid = Number(pidText);
    return runHost('kill-process', container, o, (e) => processKill(e, { signal: o.signal }), o.hostPid ? { hostPid: pid } : { pid });
  });

  // isolate: a container, or with --cluster a pod.
  addCommon(addCluster(addHost(
    respond
      .command('isolate')
      .description('cut a container off its networks, or with --cluster isolate a pod with a deny-all NetworkPolicy on a quarantine label')
      .argument('<target>', 'container id or name; with --cluster pod/NAMESPACE/NAME'),
  ))).action((target: string, o: HostOptions & ClusterOptions) => {
    if (o.cluster) {
      if (o.host) throw new UserError('--host applies to containers, not --cluster targets', 'usage');
      return runCluster('isolate', target, o, (api) => kubeIsolate(api), ['Pod']);
    }
    if (o.kubeconfig || o.context) throw new UserError('--kubeconfig and --context apply to --cluster only', 'usage');
    return runHost('isolate', target, { ...o, cluster: false }, (e) => containerIsolate(e));
  });

  const clusterAction = (name: string, description: string, kinds: readonly string[], make: (api: KubeApi, o: ClusterOptions) => ResponseAction<any>) =>
    addCommon(addCluster(respond.command(name).description(description).argument('<target>', `${kinds.map((k) => (k === 'Node' ? 'node/NAME' : `${k.toLowerCase()}/NAMESPACE/NAME`)).join(' | ')}`))).action(
      (target: string, o: ClusterOptions) => runCluster(name, target, o, (api) => make(api, o), kinds),
    );

  const labelKinds = ['Pod', 'Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet', 'Job', 'Node'];
  clusterAction('label', 'label a pod (or another object): --set key=value (repeatable)', labelKinds, (api, o) => kubeLabel(api, 'label', parseAssignments(o.set ?? [])))
    .option('--set <key=value>', 'label to set (repeatable)', collect);
  clusterAction('annotate', 'annotate a pod (or another object): --set key=value (repeatable)', labelKinds, (api, o) => kubeLabel(api, 'annotate', parseAssignments(o.set ?? [])))
    .option('--set <key=value>', 'annotation to set (repeatable)', collect);
  clusterAction('delete', 'delete a pod, so that its controller replaces it from the spec', ['Pod'], (api) => kubeDelete(api));
  clusterAction('scale-to-zero', "scale a Deployment, StatefulSet or ReplicaSet (or a pod's controller) to zero replicas", ['Deployment', 'StatefulSet', 'ReplicaSet', 'Pod'], (api) => kubeScaleToZero(api));
  clusterAction('cordon', 'cordon a node (or the node a pod runs on)', ['Node', 'Pod'], (api) => kubeCordon(api));
}

function seconds(v: string): number {
  if (!/^\d+$/.test(v)) throw new UserError(`--time "${v}": expected whole seconds`, 'usage');
  return Number(v);
}
