import type { BranchView } from '../api/wire-types';
import { layOutSaga, NODE_HEIGHT, NODE_WIDTH } from './saga-layout';
import { branchLabel } from './transaction-facts';

/**
 * The saga's branches as a graph (dependsOn edges, laid out by dagre, drawn as SVG). Branches on
 * the compensation path are drawn in the compensation colour, and edges between two of them get a
 * dashed arrow pointing back: compensation runs in reverse dependency order.
 */
export function SagaDag({ branches, parked = false }: { branches: BranchView[]; parked?: boolean }) {
  if (branches.length === 0) return null;
  const layout = layOutSaga(branches);
  const path = (points: { x: number; y: number }[]) => points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
  return (
    <section data-testid="saga-dag">
      <h2>Saga graph</h2>
      <div className="dag-legend">
        <span className="legend forward">forward (action)</span>
        <span className="legend compensation">compensation path</span>
      </div>
      {/* drawn at its natural size, scrolled sideways when wider than the page: scaled down to fit, a
          long saga's labels were a couple of pixels tall */}
      <div className="scroll-x dag-frame" data-testid="saga-dag-frame">
        <svg
          className="dag"
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="img"
          aria-label="saga dependency graph"
        >
          <defs>
            <ArrowHead id="arrow" className="arrow-head" />
            <ArrowHead id="arrow-back" className="arrow-head-compensation" />
          </defs>
          {layout.edges.map((edge) => (
            <g key={`${edge.from}->${edge.to}`}>
              <path d={path(edge.points)} className="dag-edge" markerEnd="url(#arrow)" />
              {edge.compensation && (
                <path
                  d={path([...edge.points].reverse())}
                  className="dag-edge-compensation"
                  markerEnd="url(#arrow-back)"
                  transform="translate(0,6)"
                  data-testid="compensation-edge"
                />
              )}
            </g>
          ))}
          {layout.nodes.map(({ branch, x, y, compensation }) => (
            <g
              key={branch.id}
              transform={`translate(${x - NODE_WIDTH / 2},${y - NODE_HEIGHT / 2})`}
              className={`dag-node branch-${branch.status} ${compensation ? 'on-compensation-path' : ''}`}
              data-testid="dag-node"
              data-branch={branch.id}
              data-compensation={compensation ? 'true' : 'false'}
            >
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={6} />
              <text x={10} y={20} className="dag-node-title">
                {truncate(branch.id, 20)}
              </text>
              <text x={10} y={36} className="dag-node-sub">
                {truncate(branch.participant, 22)}
              </text>
              <text x={10} y={51} className="dag-node-sub">
                {branchLabel(branch, parked)}
              </text>
            </g>
          ))}
        </svg>
      </div>
    </section>
  );
}

/** An edge's arrow head, referenced by `markerEnd="url(#id)"`. */
function ArrowHead({ id, className }: { id: string; className: string }) {
  return (
    <marker id={id} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z" className={className} />
    </marker>
  );
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
