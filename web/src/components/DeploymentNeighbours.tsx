/**
 * The deployment page's "Network neighbours": what NetworkPolicies allow this workload to
 * reach and be reached by, and what sensors observed, from the same graph API as /network
 * (`deployment=`). A link opens /network on it.
 */
import { useMemo } from 'react';
import { Link } from 'react-router';
import { useApi, useLiveChanges } from '../api/hooks';
import type { GraphNode, NetworkGraph } from '../api/types';
import { ErrorNote, Loading, Section } from './bits';
import { NeighbourTable } from '../pages/Network';

function peerLink(n: GraphNode | undefined, id: string) {
  if (n?.kind === 'deployment') return <Link to={`/deployments/${encodeURIComponent(id)}`}>{n.label}</Link>;
  return <span>{n?.label ?? id}</span>;
}

export function DeploymentNeighbours({ id }: { id: string }) {
  const { data, error, reload } = useApi<NetworkGraph>(`/api/v1/network/graph?deployment=${encodeURIComponent(id)}`);
  useLiveChanges(['events', 'objects', 'network'], reload);
  const nodes = useMemo(() => new Map((data?.nodes ?? []).map((n) => [n.id, n])), [data]);
  const edges = useMemo(() => (data?.edges ?? []).filter((e) => e.source === id || e.target === id), [data, id]);
  const me = nodes.get(id);
  return (
    <Section title="Network neighbours">
      <ErrorNote error={error} />
      {!data ? (!error && <Loading what="the network neighbours" />) : (
        <>
          <p className="hint">
            {edges.filter((e) => e.allowed).length} allowed by NetworkPolicies, {edges.filter((e) => e.observed).length} observed,{' '}
            <span className="flag-red">{edges.filter((e) => e.flag === 'observed-not-allowed').length} observed but not allowed</span>.{' '}
            {me && <Link to={`/network?${new URLSearchParams({ ...(me.cluster ? { cluster: me.cluster } : {}), ...(me.namespace ? { namespace: me.namespace } : {}), node: id })}`}>Show on the network graph</Link>}
          </p>
          <NeighbourTable edges={edges} self={id} nodes={nodes} peerLink={peerLink} />
        </>
      )}
    </Section>
  );
}
