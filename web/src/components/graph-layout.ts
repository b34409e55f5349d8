/**
 * The network graph's layout, computed in O(n) before Cytoscape sees the graph (a `preset`
 * layout): each namespace is a compound box whose members sit in a grid; boxes are packed
 * in rows (largest first). Force-directed layouts (cose, fcose) take seconds and move
 * everything on each load for 2,000 nodes; this one is instant, stable between loads (nodes
 * sorted by label) and keeps a namespace's workloads together, which is how people read a
 * cluster. Edges are drawn over it; a node's side panel lists them when they cross far.
 */
import type { GraphEdge, GraphNode } from '../api/types';

export const CELL_W = 150;
export const CELL_H = 70;
const GAP = 90;

export interface GroupBox { id: string; label: string; cluster?: string; namespace?: string; external?: boolean; members: GraphNode[] }
export interface Placed { groups: GroupBox[]; parentOf: Map<string, string>; positions: Map<string, { x: number; y: number }>; boxes: Map<string, { x: number; y: number; w: number; h: number }> }

/** The compound box id of a namespace: the API's own namespace node id when it has one. */
export const namespaceId = (cluster: string | undefined, ns: string) => `namespace:${cluster ?? ''}/${ns}`;

export function placeGraph(nodes: GraphNode[], _edges: GraphEdge[]): Placed {
  const groups = new Map<string, GroupBox>();
  const parentOf = new Map<string, string>();
  const nsNodes = new Map(nodes.filter((n) => n.kind === 'namespace').map((n) => [n.id, n]));
  const group = (id: string, make: () => Omit<GroupBox, 'members'>) => {
    let g = groups.get(id);
    if (!g) { g = { ...make(), members: [] }; groups.set(id, g); }
    return g;
  };
  for (const n of nodes) {
    if (n.kind === 'namespace') {
      // A namespace peer (a policy's namespaceSelector) is the box itself.
      group(n.id, () => ({ id: n.id, label: n.label, cluster: n.cluster, namespace: n.namespace }));
      continue;
    }
    let g: GroupBox;
    if (n.kind === 'external' || !n.namespace) {
      const id = n.kind === 'external' ? 'group:external' : `group:host:${n.host ?? n.cluster ?? ''}`;
      g = group(id, () => ({ id, label: n.kind === 'external' ? 'Outside the clusters' : (n.host ?? n.cluster ?? 'host'), external: n.kind === 'external' }));
    } else {
      const id = namespaceId(n.cluster, n.namespace);
      const known = nsNodes.get(id);
      g = group(id, () => ({ id, label: known?.label ?? `${n.cluster ? `${n.cluster}/` : ''}${n.namespace}`, cluster: n.cluster, namespace: n.namespace }));
    }
    g.members.push(n);
    parentOf.set(n.id, g.id);
  }
  const sorted = [...groups.values()].sort((a, b) => b.members.length - a.members.length || a.label.localeCompare(b.label));
  const size = (g: GroupBox) => {
    const cols = Math.max(1, Math.ceil(Math.sqrt(g.members.length * 1.5)));
    const rows = Math.max(1, Math.ceil(g.members.length / cols));
    return { cols, w: cols * CELL_W, h: rows * CELL_H };
  };
  const area = sorted.reduce((s, g) => { const z = size(g); return s + (z.w + GAP) * (z.h + GAP); }, 0);
  const rowWidth = Math.max(CELL_W * 4, Math.sqrt(area) * 1.6);
  const positions = new Map<string, { x: number; y: number }>();
  const boxes = new Map<string, { x: number; y: number; w: number; h: number }>();
  let x = 0, y = 0, rowH = 0;
  for (const g of sorted) {
    const z = size(g);
    if (x > 0 && x + z.w > rowWidth) { x = 0; y += rowH + GAP; rowH = 0; }
    g.members.sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
    g.members.forEach((n, i) => positions.set(n.id, { x: x + (i % z.cols) * CELL_W + CELL_W / 2, y: y + Math.floor(i / z.cols) * CELL_H + CELL_H / 2 }));
    // An empty namespace box (only its namespace peer) still needs a place.
    if (g.members.length === 0) positions.set(g.id, { x: x + CELL_W / 2, y: y + CELL_H / 2 });
    boxes.set(g.id, { x: x + z.w / 2, y: y + z.h / 2, w: z.w, h: z.h });
    x += z.w + GAP;
    rowH = Math.max(rowH, z.h);
  }
  return { groups: sorted, parentOf, positions, boxes };
}
