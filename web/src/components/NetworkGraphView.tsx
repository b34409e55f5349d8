/**
 * The network graph drawn by Cytoscape.js (bundled, loaded on demand in its own chunk so the
 * first load stays small). Namespaces are compound nodes; positions come from
 * `placeGraph` (a preset layout, O(n)). Edge styles: allowed and observed solid; observed
 * but not allowed red; allowed but not observed dashed; an mTLS edge ends in a filled
 * square at its source. Tapping a node or an edge calls `onSelect`.
 */
import { useEffect, useRef } from 'react';
import type { Core, ElementDefinition, StylesheetJson } from 'cytoscape';
import type { NetworkGraph } from '../api/types';
import { placeGraph } from './graph-layout';

export type Selection = { kind: 'node' | 'edge'; id: string } | null;

declare global {
  interface Window {
    /** Set by the browser tests (playwright's addInitScript) to get `__gatehouseNetwork`. */
    __GATEHOUSE_TEST_HOOKS__?: boolean;
    __gatehouseNetwork?: { nodes(): unknown[]; edges(): unknown[]; renderedAt: number | null; select(id: string): void };
  }
}

function colours() {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string) => css.getPropertyValue(name).trim() || '#888';
  return { text: v('--text'), muted: v('--muted'), border: v('--border'), surface: v('--surface'), bg: v('--bg'), error: v('--error'), accent: v('--accent'), medium: v('--medium'), track: v('--bar-track') };
}

function style(large: boolean): StylesheetJson {
  const c = colours();
  return [
    { selector: 'node', style: { label: 'data(label)', 'font-size': 11, color: c.text, 'text-valign': 'bottom', 'text-margin-y': 3, 'text-max-width': '130px', 'text-wrap': 'ellipsis', 'min-zoomed-font-size': large ? 9 : 0, width: 22, height: 22, 'background-color': c.accent, 'border-width': 0 } },
    { selector: 'node[kind = "service"]', style: { shape: 'diamond', 'background-color': c.medium } },
    { selector: 'node[kind = "external"]', style: { shape: 'hexagon', 'background-color': c.muted } },
    { selector: 'node[?learning]', style: { 'border-width': 2, 'border-style': 'dashed', 'border-color': c.text } },
    { selector: ':parent', style: { shape: 'round-rectangle', 'background-color': c.track, 'background-opacity': 0.55, 'border-width': 1, 'border-color': c.border, 'text-valign': 'top', 'text-halign': 'center', 'text-margin-y': -4, 'font-size': 13, 'font-weight': 'bold', padding: '14px', 'min-zoomed-font-size': 0, 'text-max-width': '600px' } },
    { selector: 'node[kind = "namespace"][!isParent]', style: { shape: 'round-rectangle', width: 60, height: 30, 'background-color': c.track, 'border-width': 1, 'border-color': c.border } },
    { selector: 'edge', style: { width: 1.5, 'line-color': c.muted, 'curve-style': large ? 'straight' : 'unbundled-bezier', 'control-point-distances': [24], 'control-point-weights': [0.5], 'target-arrow-shape': 'triangle', 'target-arrow-color': c.muted, 'arrow-scale': 0.8, opacity: 0.8 } },
    { selector: 'edge[?observed][?allowed]', style: { 'line-color': c.accent, 'target-arrow-color': c.accent } },
    { selector: 'edge[flag = "observed-not-allowed"]', style: { width: 3, 'line-color': c.error, 'target-arrow-color': c.error, opacity: 1, 'z-index': 10 } },
    { selector: 'edge[flag = "allowed-not-observed"]', style: { 'line-style': 'dashed', 'line-dash-pattern': [6, 4] } },
    { selector: 'edge[mtls = "mtls"]', style: { 'source-arrow-shape': 'square', 'source-arrow-color': c.text } },
    { selector: ':selected', style: { 'overlay-color': c.accent, 'overlay-opacity': 0.25, 'overlay-padding': 6 } },
    { selector: 'edge:selected', style: { width: 4 } },
  ];
}

export function toElements(graph: NetworkGraph): ElementDefinition[] {
  const placed = placeGraph(graph.nodes, graph.edges);
  const els: ElementDefinition[] = [];
  const known = new Set(graph.nodes.map((n) => n.id));
  for (const g of placed.groups) {
    const apiNode = graph.nodes.find((n) => n.id === g.id);
    els.push({ group: 'nodes', data: { id: g.id, label: g.label, kind: apiNode ? 'namespace' : 'group', isParent: g.members.length > 0 }, ...(g.members.length === 0 ? { position: placed.positions.get(g.id) } : {}) });
  }
  for (const n of graph.nodes) {
    if (n.kind === 'namespace') continue;
    els.push({ group: 'nodes', data: { id: n.id, label: n.name ?? n.label, kind: n.kind, learning: n.learning ?? false, parent: placed.parentOf.get(n.id) }, position: placed.positions.get(n.id) });
  }
  for (const e of graph.edges) {
    if (!known.has(e.source) || !known.has(e.target)) continue;
    els.push({ group: 'edges', data: { id: e.id, source: e.source, target: e.target, allowed: e.allowed, observed: !!e.observed, flag: e.flag ?? '', mtls: e.mtls ?? '' } });
  }
  return els;
}

function showSelection(cy: Core, selected: Selection): void {
  cy.elements(':selected').unselect();
  if (!selected) return;
  const el = cy.getElementById(selected.id);
  if (el.empty()) return;
  el.select();
  const b = el.boundingBox();
  const v = cy.extent();
  if (b.x1 < v.x1 || b.x2 > v.x2 || b.y1 < v.y1 || b.y2 > v.y2) cy.center(el);
}

export function NetworkGraphView({ graph, selected, onSelect, label }: { graph: NetworkGraph; selected: Selection; onSelect: (s: Selection) => void; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const cyRef = useRef<Core | null>(null);
  const select = useRef(onSelect);
  select.current = onSelect;

  useEffect(() => {
    let cancelled = false;
    let cy: Core | null = null;
    const started = performance.now();
    void import('cytoscape').then(({ default: cytoscape }) => {
      if (cancelled || !box.current) return;
      const large = graph.nodes.length > 500;
      cy = cytoscape({
        container: box.current,
        elements: toElements(graph),
        style: style(large),
        layout: { name: 'preset', fit: true, padding: 30 },
        minZoom: 0.05, maxZoom: 3, wheelSensitivity: 0.3,
        // Large graphs: draw a cached bitmap while panning/zooming, edges hidden meanwhile.
        textureOnViewport: large, hideEdgesOnViewport: large, motionBlur: false, pixelRatio: large ? 1 : 'auto',
        boxSelectionEnabled: false, autoungrabify: large,
      });
      cyRef.current = cy;
      showSelection(cy, shown.current);
      cy.on('tap', 'node', (e) => { const id = e.target.id() as string; if (!id.startsWith('group:')) select.current({ kind: 'node', id }); });
      cy.on('tap', 'edge', (e) => select.current({ kind: 'edge', id: e.target.id() as string }));
      cy.on('tap', (e) => { if (e.target === cy) select.current(null); });
      cy.one('render', () => {
        performance.mark('network-graph-rendered', { detail: { nodes: graph.nodes.length, ms: performance.now() - started } });
        if (window.__gatehouseNetwork) window.__gatehouseNetwork.renderedAt = performance.now();
      });
      if (window.__GATEHOUSE_TEST_HOOKS__) {
        const c = cy;
        window.__gatehouseNetwork = {
          renderedAt: null,
          nodes: () => c.nodes().map((n) => ({ id: n.id(), label: n.data('label') as string, kind: n.data('kind') as string, parent: (n.data('parent') as string | undefined) ?? null, isParent: n.isParent(), rendered: n.renderedPosition() })),
          edges: () => c.edges().map((e) => ({ ...(e.data() as Record<string, unknown>), lineColor: e.style('line-color'), lineStyle: e.style('line-style'), width: e.style('width'), rendered: e.renderedMidpoint(), selected: e.selected() })),
          select: (id: string) => { const el = c.getElementById(id); if (el.nonempty()) el.emit('tap'); },
        };
      }
    });
    return () => { cancelled = true; cy?.destroy(); cyRef.current = null; };
  }, [graph]);

  // The selection (from the graph, the side panel or the URL) is shown and brought into view.
  const shown = useRef(selected);
  shown.current = selected;
  useEffect(() => { if (cyRef.current) showSelection(cyRef.current, selected); }, [selected]);

  return <div ref={box} className="graph-canvas" role="img" aria-label={label} data-testid="network-graph" />;
}
