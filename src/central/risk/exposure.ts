/**
 * Exposure: who can reach the deployment. Services in front of it (LoadBalancer >
 * NodePort > ClusterIP), Ingresses and Routes to those Services, the node's network
 * (hostNetwork, hostPort, ports published on a host), and whether a NetworkPolicy isolates
 * its pods' ingress (`netpol analyze`'s engine decides). Saturates like StackRox's
 * "Service Reachability" (max 2).
 */
import { saturate } from './scale.js';
import type { FactorContext, FactorResult, RiskFactor } from './types.js';

const SERVICE_WEIGHTS: Readonly<Record<string, number>> = { LoadBalancer: 6, NodePort: 4, ClusterIP: 1 };
const INGRESS = 6;
const HOST_NETWORK = 4;
const HOST_PORT = 4;
const NOT_ISOLATED = 3;
const PUBLISHED = { everywhere: 4, loopback: 1, address: 3 };
const SATURATION = 16;
const MAX = 2;

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1' || ip === 'localhost';
const isEverywhere = (ip: string): boolean => ip === '' || ip === '0.0.0.0' || ip === '::';

export const exposureFactor: RiskFactor = {
  name: 'exposure',
  evaluate(ctx: FactorContext): FactorResult {
    const w = ctx.workload;
    let points = 0;
    const details: string[] = [];
    const add = (n: number, why: string) => {
      points += n;
      details.push(why);
    };
    if (w.platform === 'kubernetes' && w.namespace) {
      for (const svc of ctx.cluster.servicesSelecting(w.namespace, w.podLabels)) {
        const type = svc.type ?? 'ClusterIP';
        const weight = SERVICE_WEIGHTS[type];
        if (weight) add(weight, `Service ${svc.name} (${type})`);
        for (const ing of ctx.cluster.ingressesTo(w.namespace, svc.name)) add(INGRESS, `${ing} routes to Service ${svc.name}`);
      }
    }
    if (w.hostNetwork) add(HOST_NETWORK, "hostNetwork: the pods use the node's network");
    for (const c of w.containers) for (const p of c.hostPorts) add(HOST_PORT, `hostPort ${p} in container '${c.name}'`);
    for (const p of w.publishedPorts) {
      if (isEverywhere(p.hostIp)) add(PUBLISHED.everywhere, `port ${p.port} published on every host interface`);
      else if (isLoopback(p.hostIp)) add(PUBLISHED.loopback, `port ${p.port} published on ${p.hostIp}`);
      else add(PUBLISHED.address, `port ${p.port} published on ${p.hostIp}`);
    }
    if (w.platform === 'kubernetes' && w.namespace && ctx.cluster.known) {
      // NetworkPolicies do not apply to pods on the node's network.
      if (w.hostNetwork) add(NOT_ISOLATED, 'no NetworkPolicy isolation: NetworkPolicies do not apply to hostNetwork pods');
      else if (!ctx.cluster.ingressIsolated(w.namespace, w.podLabels)) add(NOT_ISOLATED, 'no NetworkPolicy isolates ingress to the pods');
    }
    return { score: saturate(points, SATURATION, MAX), details };
  },
};
