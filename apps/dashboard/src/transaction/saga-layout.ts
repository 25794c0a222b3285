import dagre from '@dagrejs/dagre';
import type { BranchView } from '../api/wire-types';

export const NODE_WIDTH = 170;
export const NODE_HEIGHT = 58;

export interface LaidOutNode {
  branch: BranchView;
  x: number;
  y: number;
  /** The branch is being, or has been, undone. */
  compensation: boolean;
}

export interface LaidOutEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
  /** Both ends are on the compensation path: undone in reverse, `to` before `from`. */
  compensation: boolean;
}

export interface SagaLayout {
  width: number;
  height: number;
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
}

/** A branch on the compensation path: its phase is `compensate` (compensating or compensated). */
export function onCompensationPath(branch: BranchView): boolean {
  return branch.phase === 'compensate';
}

/** Lays the saga's branches out left to right by `dependsOn` (a sequential saga is a chain). */
export function layOutSaga(branches: readonly BranchView[]): SagaLayout {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
  graph.setDefaultEdgeLabel(() => ({}));
  const known = new Set(branches.map((b) => b.id));
  for (const b of branches) graph.setNode(b.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const b of branches) for (const dep of b.dependsOn) if (known.has(dep)) graph.setEdge(dep, b.id);
  dagre.layout(graph);

  const byId = new Map(branches.map((b) => [b.id, b]));
  const nodes = branches.map((branch) => {
    const { x, y } = graph.node(branch.id);
    return { branch, x, y, compensation: onCompensationPath(branch) };
  });
  const edges = graph.edges().map(({ v, w }) => ({
    from: v,
    to: w,
    points: graph.edge(v, w).points ?? [],
    compensation: onCompensationPath(byId.get(v)!) && onCompensationPath(byId.get(w)!),
  }));
  const { width = 0, height = 0 } = graph.graph();
  return { width, height, nodes, edges };
}
