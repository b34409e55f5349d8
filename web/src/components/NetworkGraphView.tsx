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
    // Large graphs: a node's label is measured only when it is shown (in view at a readable
    // zoom, or next to the selection): measuring 2,000 labels doubles the first render.
    { selector: 'node', style: { ...(large ? {} : { label: 'data(label)', 'text-wrap': 'ellipsis' as const, 'text-max-width': '130px' }), 'font-size': 11, color: c.text, 'text-valign': 'bottom', 'text-margin-y': 3, width: 22, height: 22, 'background-color': c.accent, 'border-width': 0 } },
    { selector: 'node.labelled', style: { label: 'data(label)' } },
    { selector: 'node[kind = "service"]', style: { shape: 'diamond', 'background-color': c.medium } },
    { selector: 'node[kind = "external"]', style: { shape: 'hexagon', 'background-color': c.muted } },
    // A solid ring (a dashed border costs twice as much to draw on 2,000 nodes).
    { selector: 'node[?learning]', style: { 'border-width': 3, 'border-color': c.medium } },
    // No NetworkPolicy isolates it either way: highlighted (the "deployments with no policy").
    { selector: 'node[?unprotected]', style: { 'background-color': c.error, shape: 'round-triangle' } },
    { selector: ':parent', style: { shape: 'round-rectangle', 'background-color': c.bg, 'border-width': 1, 'border-color': c.border, 'text-valign': 'top', 'text-halign': 'center', 'text-margin-y': -4, 'font-size': 13, 'font-weight': 'bold', padding: '14px', label: 'data(label)', 'text-max-width': '600px', ...(large ? { 'compound-sizing-wrt-labels': 'exclude' as const } : {}) } },
    // Flat mode's namespace boxes: under everything, sized by the layout.
    ...(large ? [
      { selector: 'node, edge', style: { 'z-index-compare': 'manual' as const, 'z-index': 2 } },
      { selector: 'edge', style: { 'z-index': 1 } },
      { selector: 'node.box', style: { shape: 'round-rectangle' as const, width: 'data(w)', height: 'data(h)', 'background-color': c.bg, 'border-width': 1, 'border-color': c.border, label: 'data(label)', 'text-valign': 'top' as const, 'text-halign': 'center' as const, 'text-margin-y': -4, 'font-size': 13, 'font-weight': 'bold' as const, 'z-index': 0, events: 'no' as const } },
    ] : []),
    { selector: 'node[kind = "namespace"][!isParent]', style: { shape: 'round-rectangle', width: 60, height: 30, 'background-color': c.track, 'border-width': 1, 'border-color': c.border } },
    // Large graphs: haystack edges (the cheapest; no arrow — the side panel says the direction).
    { selector: 'edge', style: { width: 1.5, 'line-color': c.muted, ...(large ? { 'curve-style': 'haystack' as const, 'haystack-radius': 0 } : { 'curve-style': 'unbundled-bezier' as const, 'control-point-distances': [24], 'control-point-weights': [0.5], 'target-arrow-shape': 'triangle' as const, 'target-arrow-color': c.muted, 'arrow-scale': 0.8 }) } },
    { selector: 'edge[?observed][?allowed]', style: { 'line-color': c.accent, 'target-arrow-color': c.accent } },
    { selector: 'edge[flag = "observed-not-allowed"]', style: { width: 3, 'line-color': c.error, 'target-arrow-color': c.error, 'z-index': 10 } },
    { selector: 'edge[flag = "allowed-not-observed"]', style: { 'line-style': 'dashed', 'line-dash-pattern': [6, 4] } },
    { selector: 'edge[mtls = "mtls"]', style: { 'source-arrow-shape': 'square', 'source-arrow-color': c.text } },
    { selector: ':selected', style: { 'overlay-color': c.accent, 'overlay-opacity': 0.25, 'overlay-padding': 6 } },
    { selector: 'edge:selected', style: { width: 4 } },
  ];
}

/**
 * Cytoscape's elements. Namespaces are compound nodes; for a large graph (`flat`) they are
 * plain box nodes drawn under their members at the geometry `placeGraph` computed, with
 * the namespace in each member's `box` — the same picture without Cytoscape's compound
 * bounds bookkeeping, which is most of its first render at 2,000 nodes.
 */
export function toElements(graph: NetworkGraph, flat = false): ElementDefinition[] {
  const placed = placeGraph(graph.nodes, graph.edges);
  const els: ElementDefinition[] = [];
  const known = new Set(graph.nodes.map((n) => n.id));
  const namespaceNodes = new Set(graph.nodes.filter((n) => n.kind === 'namespace').map((n) => n.id));
  for (const g of placed.groups) {
    const kind = namespaceNodes.has(g.id) ? 'namespace' : 'group';
    if (flat) {
      const b = placed.boxes.get(g.id)!;
      const pad = 28;
      els.push({ group: 'nodes', classes: 'box', data: { id: g.id, label: g.label, kind, isParent: g.members.length > 0, w: b.w + pad, h: b.h + pad }, position: { x: b.x, y: b.y } });
    } else {
      els.push({ group: 'nodes', data: { id: g.id, label: g.label, kind, isParent: g.members.length > 0 }, ...(g.members.length === 0 ? { position: placed.positions.get(g.id) } : {}) });
    }
  }
  for (const n of graph.nodes) {
    if (n.kind === 'namespace') continue;
    const box = placed.parentOf.get(n.id);
    els.push({ group: 'nodes', data: { id: n.id, label: n.name ?? n.label, kind: n.kind, learning: n.learning ?? false, unprotected: n.isolated ? !n.isolated.ingress && !n.isolated.egress : false, box, ...(flat ? {} : { parent: box }) }, position: placed.positions.get(n.id) });
  }
  for (const e of graph.edges) {
    if (!known.has(e.source) || !known.has(e.target)) continue;
    els.push({ group: 'edges', data: { id: e.id, source: e.source, target: e.target, allowed: e.allowed, observed: !!e.observed, flag: e.flag ?? '', mtls: e.mtls ?? '' } });
  }
  return els;
}

/** Large graphs: labels for the nodes in view once they are readable (zoom ≥ 0.5), at most 400. */
const LABEL_ZOOM = 0.5;
function labelInView(cy: Core): void {
  const want = new Set<string>();
  if (cy.zoom() >= LABEL_ZOOM) {
    const v = cy.extent();
    for (const n of cy.nodes()) {
      if (n.isParent() || n.hasClass('box')) continue;
      const p = n.position();
      if (p.x >= v.x1 && p.x <= v.x2 && p.y >= v.y1 && p.y <= v.y2) want.add(n.id());
      if (want.size >= 400) break;
    }
  }
  cy.batch(() => {
    cy.nodes('.labelled').forEach((n) => { if (!want.has(n.id()) && !n.selected() && !n.hasClass('near')) n.removeClass('labelled'); });
    for (const id of want) cy.getElementById(id).addClass('labelled');
  });
}

function showSelection(cy: Core, selected: Selection): void {
  cy.batch(() => {
    cy.elements(':selected').unselect();
    cy.nodes('.near').removeClass('near labelled');
  });
  if (!selected) return;
  const el = cy.getElementById(selected.id);
  if (el.empty()) return;
  el.select();
  // The selection and its neighbours are named whatever the zoom.
  const near = el.isNode() ? el.closedNeighborhood('node') : cy.edges().getElementById(selected.id).connectedNodes();
  near.addClass('near labelled');
  // Zoomed out past readable (a large graph's overview): bring the selection close enough to read its neighbours.
  if (cy.zoom() < LABEL_ZOOM) {
    cy.zoom(Math.min(cy.maxZoom(), 0.9));
    cy.center(el);
    return;
  }
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
    let unlisten = () => {};
    const started = performance.now();
    void import('cytoscape').then(({ default: cytoscape }) => {
      if (cancelled || !box.current) return;
      const large = graph.nodes.length > 500;
      performance.mark('network-chunk', { detail: { ms: performance.now() - started } });
      const elements = toElements(graph, large);
      performance.mark('network-elements', { detail: { ms: performance.now() - started } });
      cy = cytoscape({
        container: box.current,
        elements,
        style: style(large),
        layout: { name: 'preset', fit: true, padding: 30 },
        minZoom: 0.05, maxZoom: 3, wheelSensitivity: 0.3,
        // Large graphs: draw a cached bitmap while panning/zooming, edges hidden meanwhile.
        textureOnViewport: large, hideEdgesOnViewport: large, motionBlur: false, pixelRatio: large ? 1 : 'auto',
        boxSelectionEnabled: false, autoungrabify: large,
      });
      performance.mark('network-init', { detail: { ms: performance.now() - started } });
      cyRef.current = cy;
      showSelection(cy, shown.current);
      // The theme follows the system: a change while the page is open restyles the graph.
      const scheme = window.matchMedia('(prefers-color-scheme: dark)');
      const restyle = () => { if (cy) cy.style(style(large)); };
      scheme.addEventListener('change', restyle);
      unlisten = () => scheme.removeEventListener('change', restyle);
      if (large) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const c = cy;
        c.on('viewport', () => {
          clearTimeout(timer);
          timer = setTimeout(() => labelInView(c), 120);
        });
      }
      cy.on('tap', 'node', (e) => { const id = e.target.id() as string; if (!id.startsWith('group:')) select.current({ kind: 'node', id }); });
      cy.on('tap', 'edge', (e) => select.current({ kind: 'edge', id: e.target.id() as string }));
      cy.on('tap', (e) => { if (e.target === cy) select.current(null); });
      cy.one('render', () => {
        performance.mark('network-graph-rendered', { detail: { nodes: graph.nodes.length, ms: performance.now() - started } });
        if (window.__gatehouseNetwork) window.__gatehouseNetwork.renderedAt = performance.now();
      });
      if (window.__GATEHOUSE_TEST_HOOKS__) {
        const c = cy;
        // A redraw destroys this instance while a test may still be polling it: answer empty then.
        window.__gatehouseNetwork = {
          renderedAt: null,
          nodes: () => c.destroyed() ? [] : c.nodes().map((n) => ({ id: n.id(), label: n.data('label') as string, kind: n.data('kind') as string, parent: (n.data('parent') as string | undefined) ?? null, box: (n.data('box') as string | undefined) ?? null, isParent: n.isParent() || n.hasClass('box'), unprotected: n.data('unprotected') === true, background: n.style('background-color'), rendered: n.renderedPosition() })),
          edges: () => c.destroyed() ? [] : c.edges().map((e) => ({ ...(e.data() as Record<string, unknown>), lineColor: e.style('line-color'), lineStyle: e.style('line-style'), width: e.style('width'), rendered: e.renderedMidpoint(), selected: e.selected() })),
          select: (id: string) => { const el = c.getElementById(id); if (el.nonempty()) el.emit('tap'); },
        };
      }
    });
    return () => { cancelled = true; unlisten(); cy?.destroy(); cyRef.current = null; };
  }, [graph]);

  // The selection (from the graph, the side panel or the URL) is shown and brought into view.
  const shown = useRef(selected);
  shown.current = selected;
  useEffect(() => { if (cyRef.current) showSelection(cyRef.current, selected); }, [selected]);

  return <div ref={box} className="graph-canvas" role="img" aria-label={label} data-testid="network-graph" />;
}
