/**
 * `/network`: namespaces and deployments as a graph (Cytoscape.js), with the edges
 * NetworkPolicies allow and the edges sensors observed told apart, flagged edges (observed
 * but not allowed in red, allowed but never observed dashed) and mTLS. Filters (cluster,
 * namespace, time window) and the selected node or edge live in the URL. A side panel shows
 * the selection; the flagged edges and a workload finder are plain HTML, so the page works
 * by keyboard and screen reader too (the canvas is a picture for them).
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, ApiError, query } from '../api/client';
import { useApi, useLiveChanges } from '../api/hooks';
import type { GraphEdge, GraphNode, NetworkGraph } from '../api/types';
import { ErrorNote, Loading, When } from '../components/bits';
import { Filters, useFilters } from '../components/Filters';
import { NetworkGraphView, type Selection } from '../components/NetworkGraphView';
import { currentSearchParams } from '../api/url';

/** The time windows offered for observed edges: `since` is sent as an RFC 3339 time. */
export const WINDOWS: Record<string, number> = { '1h': 3600, '24h': 86_400, '7d': 7 * 86_400, '30d': 30 * 86_400 };

export function sinceOf(window: string, now = Date.now()): string | undefined {
  const s = WINDOWS[window];
  return s ? new Date(now - s * 1000).toISOString() : undefined;
}

export function graphPath(f: { cluster?: string; namespace?: string; deployment?: string; window?: string }): string {
  return `/api/v1/network/graph${query({ cluster: f.cluster, namespace: f.namespace, deployment: f.deployment, since: f.window ? sinceOf(f.window) : undefined })}`;
}

export function Network() {
  const f = useFilters(['cluster', 'namespace', 'window']);
  const [params, setParams] = useSearchParams();
  // `since` moves with the clock: computed once per filter change, not per render.
  const path = useMemo(() => graphPath(f), [f.cluster, f.namespace, f.window]);
  const { data, error, loading, reload } = useApi<NetworkGraph>(path);
  // Sensors send batches every few seconds: redrawing a large graph each time would move it
  // under the user's hands, so new observations are offered, not forced.
  const [stale, setStale] = useState(false);
  useLiveChanges(['events', 'objects', 'network'], () => setStale(true));
  const refresh = () => { setStale(false); reload(); };
  const selected: Selection = params.get('node') ? { kind: 'node', id: params.get('node')! } : params.get('edge') ? { kind: 'edge', id: params.get('edge')! } : null;
  const setSelected = (s: Selection) => {
    const next = currentSearchParams();
    next.delete('node'); next.delete('edge');
    if (s) next.set(s.kind, s.id);
    setParams(next, { replace: true });
  };
  return (
    <>
      <h1>Network</h1>
      <Filters fields={[{ name: 'cluster', label: 'Cluster' }, { name: 'namespace', label: 'Namespace' }, { name: 'window', label: 'Observed in', options: Object.keys(WINDOWS) }]} />
      <ErrorNote error={error} />
      {stale && <p className="notice" role="status">New flows or inventory changes arrived. <button type="button" className="small" onClick={refresh}>Redraw the graph</button></p>}
      {!data ? (!error && <Loading what="the network graph" />) : <NetworkBody graph={data} selected={selected} onSelect={setSelected} loading={loading} />}
    </>
  );
}

function NetworkBody({ graph, selected, onSelect, loading }: { graph: NetworkGraph; selected: Selection; onSelect: (s: Selection) => void; loading: boolean }) {
  const nodes = useMemo(() => new Map(graph.nodes.map((n) => [n.id, n])), [graph]);
  const flagged = useMemo(() => graph.edges.filter((e) => e.flag), [graph]);
  // The first rows only until asked: a large graph's first render is not spent on a long table.
  const [rowsShown, setRowsShown] = useState(100);
  const c = graph.counts;
  return (
    <>
      <p className="graph-counts" data-testid="graph-counts" aria-live="polite">
        {c.nodes} nodes, {c.edges} edges: <span className="flag-red">{c.observedNotAllowed} observed but not allowed</span>, {c.allowedNotObserved} allowed but never observed.
        {loading && <span className="muted"> Updating…</span>} <span className="muted small">As of <When iso={graph.generatedAt} short />.</span>
      </p>
      <Legend />
      {graph.nodes.length === 0 ? <p className="muted">No workload in this view: add a cluster in Settings, or change the filters.</p> : (
        <div className="network-layout">
          <NetworkGraphView graph={graph} selected={selected} onSelect={onSelect} label={`Network graph of ${c.nodes} nodes and ${c.edges} edges; the flagged edges and the finder below list the same by keyboard`} />
          <aside className="card side-panel" aria-label="Selection">
            <SidePanel graph={graph} nodes={nodes} selected={selected} onSelect={onSelect} />
          </aside>
        </div>
      )}
      <Finder graph={graph} onSelect={onSelect} />
      <section className="card" aria-labelledby="h-flagged">
        <h2 id="h-flagged">Flagged edges ({flagged.length})</h2>
        {flagged.length === 0 ? <p className="muted">Every observed connection is allowed and every allowed one was seen.</p> : (
          <div className="table-scroll short" tabIndex={0} role="region" aria-label="Flagged edges table">
            <table className="compact">
              <thead><tr><th scope="col">Flag</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Port</th><th scope="col">Connections</th><th scope="col"><span className="sr-only">Show</span></th></tr></thead>
              <tbody>
                {flagged.slice(0, rowsShown).map((e) => (
                  <tr key={e.id} aria-selected={selected?.id === e.id}>
                    <td><FlagBadge edge={e} /></td>
                    <td>{nodes.get(e.source)?.label ?? e.source}</td>
                    <td>{nodes.get(e.target)?.label ?? e.target}</td>
                    <td>{portText(e)}</td>
                    <td>{e.observed?.connections ?? '—'}</td>
                    <td><button type="button" className="small secondary" onClick={() => onSelect({ kind: 'edge', id: e.id })}>Show</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
            {flagged.length > rowsShown && (rowsShown < 1000
              ? <button type="button" className="small secondary" onClick={() => setRowsShown(1000)}>Show {Math.min(1000, flagged.length) - rowsShown} more</button>
              : <p className="hint">The first {rowsShown} of {flagged.length}; filter by namespace to see the rest.</p>)}
          </div>
        )}
      </section>
    </>
  );
}

export const portText = (e: GraphEdge) => `${e.port ?? 'any'}${e.portEnd !== undefined && e.portEnd !== e.port ? `-${e.portEnd}` : ''}/${e.protocol}`;

export function FlagBadge({ edge }: { edge: GraphEdge }) {
  if (edge.flag === 'observed-not-allowed') return <span className="badge flag-red">observed, not allowed</span>;
  if (edge.flag === 'allowed-not-observed') return <span className="badge flag-dashed">allowed, not observed</span>;
  return <span className="badge">{edge.allowed ? 'allowed' : 'not allowed'}{edge.observed ? ', observed' : ''}</span>;
}

function Legend() {
  return (
    <ul className="legend" aria-label="Legend">
      <li><span className="swatch edge-ok" aria-hidden="true" /> allowed and observed</li>
      <li><span className="swatch edge-bad" aria-hidden="true" /> observed, not allowed</li>
      <li><span className="swatch edge-unused" aria-hidden="true" /> allowed, never observed</li>
      <li><span className="swatch edge-plain" aria-hidden="true" /> allowed (no observation data)</li>
      <li><span className="swatch mtls" aria-hidden="true" /> mTLS (square at the source)</li>
      <li><span className="swatch node-dep" aria-hidden="true" /> deployment <span className="swatch node-svc" aria-hidden="true" /> service <span className="swatch node-ext" aria-hidden="true" /> external; boxes are namespaces</li>
      <li><span className="swatch node-learning" aria-hidden="true" /> ringed: still learning (its baseline window is open)</li>
      <li><span className="swatch node-unprotected" aria-hidden="true" /> red triangle: no NetworkPolicy protects it (ingress or egress)</li>
    </ul>
  );
}

function SidePanel({ graph, nodes, selected, onSelect }: { graph: NetworkGraph; nodes: Map<string, GraphNode>; selected: Selection; onSelect: (s: Selection) => void }) {
  if (!selected) return <><h2>Selection</h2><p className="muted">Click a node or an edge, or use “Show” below.</p></>;
  if (selected.kind === 'edge') {
    const e = graph.edges.find((x) => x.id === selected.id);
    if (!e) return <><h2>Edge</h2><p className="muted">Not in this view.</p></>;
    return (
      <>
        <h2>Edge</h2>
        <p data-testid="edge-ends"><NodeButton node={nodes.get(e.source)} id={e.source} onSelect={onSelect} /> → <NodeButton node={nodes.get(e.target)} id={e.target} onSelect={onSelect} /></p>
        <dl className="facts panel-facts" data-testid="edge-facts">
          <div><dt>Port</dt><dd>{portText(e)}</dd></div>
          <div><dt>Policies</dt><dd>{e.allowed ? 'allowed' : 'not allowed'}</dd></div>
          <div><dt>Flag</dt><dd><FlagBadge edge={e} /></dd></div>
          <div><dt>mTLS</dt><dd>{e.mtls ?? 'unknown'}</dd></div>
          <div><dt>Connections</dt><dd>{e.observed ? e.observed.connections : 'not observed'}</dd></div>
          {e.observed?.bytes !== undefined && <div><dt>Bytes</dt><dd>{e.observed.bytes}</dd></div>}
          <div><dt>First seen</dt><dd><When iso={e.observed?.firstSeen} short /></dd></div>
          <div><dt>Last seen</dt><dd><When iso={e.observed?.lastSeen} short /></dd></div>
        </dl>
      </>
    );
  }
  const n = nodes.get(selected.id);
  if (!n) return <><h2>Node</h2><p className="muted">Not in this view.</p></>;
  const edges = graph.edges.filter((e) => e.source === n.id || e.target === n.id);
  return (
    <>
      <h2>{n.label}</h2>
      <dl className="facts panel-facts">
        <div><dt>Kind</dt><dd>{n.workloadKind ?? n.kind}</dd></div>
        {n.cluster && <div><dt>Cluster</dt><dd>{n.cluster}</dd></div>}
        {n.namespace && <div><dt>Namespace</dt><dd>{n.namespace}</dd></div>}
        {n.dns && <div><dt>DNS name</dt><dd>{n.dns}</dd></div>}
        {n.learning && <div><dt>Baseline</dt><dd>still learning: its observed edges are not complete yet</dd></div>}
        {n.isolated && <div><dt>NetworkPolicies</dt><dd data-testid="isolation">{isolationText(n.isolated)}</dd></div>}
      </dl>
      {n.kind === 'deployment' && <p><Link to={`/deployments/${encodeURIComponent(n.id)}`}>Open deployment {n.name ?? n.label}</Link></p>}
      {n.kind === 'deployment' && n.cluster && n.namespace && <GeneratedPolicies key={n.id} cluster={n.cluster} namespace={n.namespace} />}
      <h3>Edges ({edges.length})</h3>
      <NeighbourTable edges={edges} self={n.id} nodes={nodes} onSelect={onSelect} compact />
    </>
  );
}

/** What the policies decide for a deployment, in words. */
function isolationText(i: { ingress: boolean; egress: boolean }): string {
  if (i.ingress && i.egress) return 'isolate its ingress and egress';
  if (i.ingress) return 'isolate its ingress; egress is open to everything';
  if (i.egress) return 'isolate its egress; ingress is open to everything';
  return 'none: any peer may reach it, and it may reach any peer';
}

function NodeButton({ node, id, onSelect }: { node: GraphNode | undefined; id: string; onSelect: (s: Selection) => void }) {
  return <button type="button" className="link-button" onClick={() => onSelect({ kind: 'node', id })}>{node?.label ?? id}</button>;
}

/** A node's edges: direction, peer, port, what policies and sensors say. Used by the deployment page too; `compact` for the side panel. */
export function NeighbourTable({ edges, self, nodes, onSelect, peerLink, compact }: { edges: GraphEdge[]; self: string; nodes: Map<string, GraphNode>; onSelect?: (s: Selection) => void; peerLink?: (n: GraphNode | undefined, id: string) => ReactNode; compact?: boolean }) {
  if (edges.length === 0) return <p className="muted">No edge: nothing allowed or observed to or from it.</p>;
  const sorted = [...edges].sort((a, b) => (a.flag === 'observed-not-allowed' ? 0 : 1) - (b.flag === 'observed-not-allowed' ? 0 : 1));
  return (
    <table className={`compact neighbours${compact ? ' in-panel' : ''}`} data-testid="neighbours">
      <thead><tr>{!compact && <th scope="col">Direction</th>}<th scope="col">Peer</th><th scope="col">Port</th><th scope="col">Status</th>{!compact && <th scope="col">Last seen</th>}</tr></thead>
      <tbody>
        {sorted.map((e) => {
          const out = e.source === self;
          const peer = out ? e.target : e.source;
          const name = peerLink ? peerLink(nodes.get(peer), peer) : onSelect ? <NodeButton node={nodes.get(peer)} id={peer} onSelect={onSelect} /> : (nodes.get(peer)?.label ?? peer);
          return (
            <tr key={e.id} data-flag={e.flag ?? ''}>
              {!compact && <td>{out ? 'to' : 'from'}</td>}
              <td>{compact && <span title={out ? 'to' : 'from'}>{out ? 'to ' : 'from '}</span>}{name}</td>
              <td className="nowrap">{onSelect ? <button type="button" className="link-button" onClick={() => onSelect({ kind: 'edge', id: e.id })}>{portText(e)}</button> : portText(e)}</td>
              <td><FlagBadge edge={e} />{e.mtls === 'mtls' && <span className="small muted"> mTLS</span>}</td>
              {!compact && <td>{e.observed ? <When iso={e.observed.lastSeen} short /> : <span className="muted">never</span>}</td>}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Find a node by name (keyboard users' way into the graph). */
function Finder({ graph, onSelect }: { graph: NetworkGraph; onSelect: (s: Selection) => void }) {
  const [text, setText] = useState('');
  const [miss, setMiss] = useState(false);
  // The suggestions are built when the finder is first used, not with the graph.
  const [used, setUsed] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = text.trim().toLowerCase();
    const n = graph.nodes.find((x) => x.label.toLowerCase() === t) ?? graph.nodes.find((x) => x.label.toLowerCase().includes(t));
    setMiss(!n);
    if (n) onSelect({ kind: 'node', id: n.id });
  };
  const options = used && graph.nodes.length <= 3000 ? graph.nodes : [];
  return (
    <form className="filters finder" onSubmit={submit} role="search" aria-label="Node finder">
      <label><span>Find a node</span><input list="network-nodes" value={text} onFocus={() => setUsed(true)} onChange={(e) => setText(e.target.value)} placeholder="namespace/name" /></label>
      <datalist id="network-nodes">{options.map((n) => <option key={n.id} value={n.label} />)}</datalist>
      <button type="submit">Show</button>
      {miss && <span className="error" role="alert">No node named like “{text}”.</span>}
    </form>
  );
}

interface Generated { yaml: string; simulation: { counts?: { cutObserved?: number; removed?: number; added?: number } }; notes?: string[] }

/** The least-privilege NetworkPolicies Central generates for the node's namespace from what was observed (nothing is applied). */
function GeneratedPolicies({ cluster, namespace }: { cluster: string; namespace: string }) {
  const [state, setState] = useState<{ busy?: boolean; data?: Generated; error?: ApiError }>({});
  const generate = () => {
    setState({ busy: true });
    api<Generated>('POST', '/api/v1/network/policies/generate', { cluster, namespace }).then((data) => setState({ data }), (error: unknown) => setState({ error: error instanceof ApiError ? error : new ApiError(0, 'error', String(error)) }));
  };
  const c = state.data?.simulation.counts;
  return (
    <>
      <button type="button" className="small secondary" onClick={generate} disabled={state.busy}>{state.busy ? 'Generating…' : `Generate NetworkPolicies for ${namespace}`}</button>
      <ErrorNote error={state.error} />
      {state.data && (
        <>
          {c && <p className="hint">Would cut {c.cutObserved ?? 0} observed connections, remove {c.removed ?? 0} and add {c.added ?? 0} allowed ones. Nothing is applied.</p>}
          <pre className="yaml" tabIndex={0} aria-label={`Generated NetworkPolicies for ${namespace}`} data-testid="generated-yaml">{state.data.yaml}</pre>
        </>
      )}
    </>
  );
}
